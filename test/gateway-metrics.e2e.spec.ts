import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClientKeys, resolveGatewayOptions, unnamedKeyLabel } from '../src/gateway-options.js';
import { postJson, startGateway, type GatewayHarness } from './support/gateway-harness.js';

// Client keys of the test-key shapes, so that the suite's secret scan fails the file if one is ever printed.
const TEAM_A_KEY = 'sk-test-client-team-a-0001';
const UNNAMED_KEY = 'sk-test-client-unnamed-0002';
const UNNAMED_LABEL = `key-${createHash('sha256').update(UNNAMED_KEY).digest('hex').slice(0, 8)}`;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** One sample of a metric: the value of the series `name` whose labels include `labels`; the sum over them all if several. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) total = (total ?? 0) + Number(match[3]);
  }
  return total;
}

/** The label sets of every sample of `name`. */
function series(text: string, name: string): Array<Record<string, string>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => Object.fromEntries([...line.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!])));
}

describe('GET /metrics (Prometheus text, through the OpenTelemetry exporter)', () => {
  let gw: GatewayHarness;

  beforeAll(async () => {
    gw = await startGateway({
      apiKeys: [`team-a:${TEAM_A_KEY}`, UNNAMED_KEY],
      // $1 per input token, $2 per output token: the cost is easy to check.
      extra: (baseUrl) => ({
        llm: {
          priced: {
            type: 'openai-compatible',
            baseUrl,
            apiKey: 'sk-upstream-secret-0123456789abcdef',
            model: 'gpt-4o-mini',
            maxRetries: 0,
            pricing: { inputPerMTok: 1_000_000, outputPerMTok: 2_000_000 },
          },
        },
      }),
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const metrics = async (headers: Record<string, string> = auth(TEAM_A_KEY)) => {
    const res = await fetch(`${gw.url}/metrics`, { headers });
    return { res, text: await res.text() };
  };

  it('needs a client key when keys are set (GATEWAY_METRICS_PUBLIC unset), like the /v1 routes', async () => {
    const refused = await metrics({});
    expect(refused.res.status).toBe(401);
    expect(refused.res.headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(refused.text).error.code).toBe('missing_api_key');
    expect((await metrics({ authorization: 'Bearer sk-test-not-a-client-key' })).res.status).toBe(401);

    for (const key of [TEAM_A_KEY, UNNAMED_KEY]) {
      const { res, text } = await metrics(auth(key));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(text).toContain('# TYPE target_info gauge');
      expect(text).toContain('service_name="hush-gateway"');
    }
  });

  it("shows the library's GenAI metrics with the tokens of a call, and the client's tokens and cost by its key's name", async () => {
    const chat = await postJson(
      `${gw.baseURL}/chat/completions`,
      { model: 'priced', messages: [{ role: 'user', content: 'count these four words' }] },
      auth(TEAM_A_KEY),
    );
    expect(chat.status).toBe(200);
    const { prompt_tokens: input, completion_tokens: output } = chat.body.usage;
    expect(input).toBe(4);
    expect(output).toBeGreaterThan(0);

    // A stream (the library asks for usage upstream even when the client does not) and an embedding, by the unnamed key.
    const stream = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth(UNNAMED_KEY) },
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'one two three' }] }),
    });
    expect(await stream.text()).toContain('data: [DONE]');
    expect((await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: ['a b', 'c'] }, auth(UNNAMED_KEY))).status).toBe(200);

    const { text } = await metrics();
    // The metric names of the conventions and the library, as Prometheus names them.
    for (const [name, type] of [
      ['gen_ai_client_token_usage', 'histogram'],
      ['gen_ai_client_operation_duration', 'histogram'],
      ['gen_ai_client_operation_time_to_first_chunk', 'histogram'],
      ['hush_client_calls_total', 'counter'],
      ['hush_client_cost_total', 'counter'],
      ['http_server_request_duration', 'histogram'],
      ['hush_gateway_client_requests_total', 'counter'],
      ['hush_gateway_client_tokens_total', 'counter'],
      ['hush_gateway_client_cost_total', 'counter'],
    ]) {
      expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
    }
    // gen_ai.client.token.usage: the call's input and output tokens.
    const priced = { gen_ai_request_model: 'gpt-4o-mini', hush_instance: 'priced' };
    expect(sample(text, 'gen_ai_client_token_usage_sum', { ...priced, gen_ai_token_type: 'input' })).toBe(input);
    expect(sample(text, 'gen_ai_client_token_usage_sum', { ...priced, gen_ai_token_type: 'output' })).toBe(output);
    expect(sample(text, 'gen_ai_client_operation_duration_count', { hush_instance: 'priced', gen_ai_operation_name: 'chat' })).toBe(1);
    expect(sample(text, 'gen_ai_client_operation_time_to_first_chunk_count', { hush_instance: 'chat' })).toBe(1);
    // The library's bucket advice holds (the conventions' token buckets: 1, 4, 16, ...).
    expect(text).toMatch(/gen_ai_client_token_usage_bucket\{[^}]*le="4"\}/);

    // Per client: named by the key's name, or the hash label; the instance called; input and output apart.
    expect(sample(text, 'hush_gateway_client_tokens_total', { client: 'team-a', hush_instance: 'priced', gen_ai_token_type: 'input' })).toBe(input);
    expect(sample(text, 'hush_gateway_client_tokens_total', { client: 'team-a', hush_instance: 'priced', gen_ai_token_type: 'output' })).toBe(output);
    expect(sample(text, 'hush_gateway_client_cost_total', { client: 'team-a', hush_instance: 'priced' })).toBeCloseTo(input * 1 + output * 2, 9);
    expect(sample(text, 'hush_gateway_client_tokens_total', { client: UNNAMED_LABEL, hush_instance: 'chat', gen_ai_token_type: 'input' })).toBe(3);
    expect(sample(text, 'hush_gateway_client_tokens_total', { client: UNNAMED_LABEL, hush_instance: 'docs', gen_ai_token_type: 'input' })).toBe(3);
    expect(sample(text, 'hush_gateway_client_requests_total', { client: 'team-a', http_response_status_code: '200' })).toBeGreaterThanOrEqual(1);

    // Only names and hash labels: never a key, nor an upstream's address.
    const clients = new Set(series(text, 'hush_gateway_client_requests_total').map((s) => s.client));
    expect([...clients].sort()).toEqual([UNNAMED_LABEL, 'team-a', 'unauthenticated'].sort());
    expect(text).not.toContain(TEAM_A_KEY);
    expect(text).not.toContain(UNNAMED_KEY);
    expect(text).not.toContain('sk-test-');
    expect(text).not.toContain('sk-upstream');
    expect(text).not.toContain('server_address');
    expect(text).not.toContain('server_port');
  });

  it('has http.server.request.duration per route, method and status: 200, 404 on a route, 404 without one', async () => {
    expect((await postJson(`${gw.baseURL}/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, auth(TEAM_A_KEY))).status).toBe(
      200,
    );
    expect(
      (await postJson(`${gw.baseURL}/chat/completions`, { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }, auth(TEAM_A_KEY))).status,
    ).toBe(404);
    expect((await fetch(`${gw.baseURL}/models/no-such-model`, { headers: auth(TEAM_A_KEY) })).status).toBe(404);
    expect((await fetch(`${gw.url}/no/such/path`, { headers: auth(TEAM_A_KEY) })).status).toBe(404);
    // Refused by the router before any hook (a malformed URL): still counted, and its client still named.
    expect((await fetch(`${gw.url}/v1/models/%E0%A4%A`, { headers: auth(TEAM_A_KEY) })).status).toBe(400);

    const { text } = await metrics();
    const route = (r: string, method: string, status: string) =>
      sample(text, 'http_server_request_duration_count', { http_route: r, http_request_method: method, http_response_status_code: status }) ?? 0;
    expect(route('/v1/chat/completions', 'POST', '200')).toBeGreaterThanOrEqual(1);
    expect(route('/v1/chat/completions', 'POST', '404')).toBe(1);
    // The route's template, not the path asked for.
    expect(route('/v1/models/:model', 'GET', '404')).toBe(1);
    expect(text).not.toContain('no-such-model');
    // A URL no route serves: no http_route label at all (and not its path).
    const unrouted = series(text, 'http_server_request_duration_count').filter((s) => s.http_route === undefined);
    expect(unrouted).toContainEqual(expect.objectContaining({ http_request_method: 'GET', http_response_status_code: '404' }));
    expect(text).not.toContain('/no/such/path');
    expect(sample(text, 'http_server_request_duration_count', { http_request_method: 'GET', http_response_status_code: '400' })).toBe(1);
    expect(series(text, 'hush_gateway_client_requests_total').map((s) => s.client)).not.toContain('anonymous');
    // Refused requests are counted too, under their route.
    expect(route('/metrics', 'GET', '401')).toBeGreaterThanOrEqual(1);
    // The buckets of the conventions (seconds).
    expect(text).toMatch(/http_server_request_duration_bucket\{[^}]*http_route="\/v1\/chat\/completions"[^}]*le="0\.005"\}/);
  });
});

describe('GET /metrics access', () => {
  it('GATEWAY_METRICS_PUBLIC=true (metricsPublic) opens it without a key; the /v1 routes still need one', async () => {
    const gw = await startGateway({ apiKeys: [`team-a:${TEAM_A_KEY}`], gateway: { metricsPublic: true } });
    try {
      const res = await fetch(`${gw.url}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('# TYPE');
      expect((await fetch(`${gw.baseURL}/models`)).status).toBe(401);
    } finally {
      await gw.close();
    }
  });

  it('is open when no client keys are configured (as every route is); clients are then "anonymous"', async () => {
    const gw = await startGateway();
    try {
      expect((await postJson(`${gw.baseURL}/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'a b' }] })).status).toBe(200);
      const res = await fetch(`${gw.url}/metrics`);
      expect(res.status).toBe(200);
      expect(sample(await res.text(), 'hush_gateway_client_tokens_total', { client: 'anonymous', gen_ai_token_type: 'input' })).toBe(2);
    } finally {
      await gw.close();
    }
  });

  it('reads GATEWAY_METRICS_PUBLIC: true/false (1/0, yes/no), default false; anything else stops the bootstrap', () => {
    expect(resolveGatewayOptions({ apiKeys: [] }, {}).metricsPublic).toBe(false);
    expect(resolveGatewayOptions({ apiKeys: [] }, { GATEWAY_METRICS_PUBLIC: 'true' }).metricsPublic).toBe(true);
    expect(resolveGatewayOptions({ apiKeys: [] }, { GATEWAY_METRICS_PUBLIC: '0' }).metricsPublic).toBe(false);
    expect(resolveGatewayOptions({ apiKeys: [], metricsPublic: true }, { GATEWAY_METRICS_PUBLIC: 'false' }).metricsPublic).toBe(true);
    expect(() => resolveGatewayOptions({ apiKeys: [] }, { GATEWAY_METRICS_PUBLIC: 'open' })).toThrow(
      'GATEWAY_METRICS_PUBLIC must be true or false; got "open".',
    );
  });
});

describe('GATEWAY_API_KEYS entries: name:key or key', () => {
  it('names a key by what comes before the first colon; a key alone gets key-<8 hex digits of its SHA-256>', () => {
    expect(parseClientKeys([`team-a:${TEAM_A_KEY}`, ` ${UNNAMED_KEY} `, '', 'ops.v2_x:with:colons'])).toEqual([
      { name: 'team-a', key: TEAM_A_KEY },
      { name: UNNAMED_LABEL, key: UNNAMED_KEY },
      { name: 'ops.v2_x', key: 'with:colons' },
    ]);
    expect(unnamedKeyLabel(UNNAMED_KEY)).toBe(UNNAMED_LABEL);
    expect(UNNAMED_LABEL).toMatch(/^key-[0-9a-f]{8}$/);
    // Rotation: two keys may share a name.
    expect(parseClientKeys(['team-a:k1', 'team-a:k2']).map((k) => k.name)).toEqual(['team-a', 'team-a']);
  });

  it('refuses an entry with a colon that is not name:key, without printing the key', () => {
    for (const entry of [':sk-test-nameless-key', 'team a:sk-test-spaced-name', 'team-a:', 'team/a:sk-test-slashed-name']) {
      let message = '';
      try {
        parseClientKeys(['fine-key', entry]);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, entry).toContain('GATEWAY_API_KEYS (apiKeys): entry 2');
      expect(message).not.toContain('sk-test');
    }
  });

  it('accepts both kinds of entry as keys (the name is not part of the key)', async () => {
    const gw = await startGateway({ apiKeys: [`team-a:${TEAM_A_KEY}`, UNNAMED_KEY] });
    try {
      expect((await fetch(`${gw.baseURL}/models`, { headers: auth(TEAM_A_KEY) })).status).toBe(200);
      expect((await fetch(`${gw.baseURL}/models`, { headers: auth(UNNAMED_KEY) })).status).toBe(200);
      expect((await fetch(`${gw.baseURL}/models`, { headers: auth(`team-a:${TEAM_A_KEY}`) })).status).toBe(401);
    } finally {
      await gw.close();
    }
  });
});
