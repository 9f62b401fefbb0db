import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootstrap } from '../src/app.js';
import { resolveLogFormat } from '../src/observability/logging.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { postJson, startGateway, UPSTREAM_KEY, type GatewayHarness } from './support/gateway-harness.js';

const KEY = 'sk-test-client-json-logs-01';
const auth = { authorization: `Bearer ${KEY}` };

/** A pino destination that keeps each line, parsed. */
function collector() {
  const lines: Array<Record<string, any>> = [];
  const raw: string[] = [];
  return {
    lines,
    raw,
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, any>);
      }
    },
  };
}

/** The access line of a request, once written (it is written when the answer is done). */
async function accessLine(lines: Array<Record<string, any>> | (() => Array<Record<string, any>>), requestId: string): Promise<Record<string, any>> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const line = (typeof lines === 'function' ? lines() : lines).find((l) => l.msg === 'request' && l.requestId === requestId);
    if (line || Date.now() > deadline) return line!;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('GATEWAY_LOG_FORMAT=json (log.format: json)', () => {
  let gw: GatewayHarness;
  const out = collector();
  let boot: Array<Record<string, any>> = [];

  beforeAll(async () => {
    gw = await startGateway({
      apiKeys: [`team-a:${KEY}`],
      extra: (baseUrl) => ({
        llm: {
          priced: {
            type: 'openai-compatible',
            baseUrl,
            apiKey: UPSTREAM_KEY,
            model: 'gpt-4o-mini',
            maxRetries: 0,
            pricing: { inputPerMTok: 1_000_000, outputPerMTok: 2_000_000 },
          },
        },
      }),
      gateway: { log: { format: 'json', destination: out } },
    });
    boot = [...out.lines];
  });
  afterAll(async () => {
    await gw?.close();
  });
  beforeEach(() => {
    out.lines.length = 0;
    out.raw.length = 0;
  });

  it("writes Nest's own lines as JSON (level, time, context, msg), without a request id outside requests", async () => {
    const started = boot.find((l) => l.msg === 'Nest application successfully started');
    expect(started).toMatchObject({ level: 30, context: 'NestApplication' });
    expect(typeof started!.time).toBe('string');
    expect(boot.length).toBeGreaterThan(1);
    expect(boot.every((l) => l.requestId === undefined)).toBe(true);
  });

  it('writes one line per request: id, method, route, model, instance, client, status, duration, tokens and cost', async () => {
    const res = await postJson(
      `${gw.baseURL}/chat/completions`,
      { model: 'priced', messages: [{ role: 'user', content: 'three words here' }] },
      { ...auth, 'x-request-id': 'json-1' },
    );
    expect(res.status).toBe(200);
    const line = await accessLine(out.lines, 'json-1');
    expect(line).toMatchObject({
      level: 30,
      msg: 'request',
      requestId: 'json-1',
      method: 'POST',
      route: '/v1/chat/completions',
      path: '/v1/chat/completions',
      status: 200,
      client: 'team-a',
      model: 'priced',
      instance: 'priced',
      calls: 1,
      tokensIn: res.body.usage.prompt_tokens,
      tokensOut: res.body.usage.completion_tokens,
      costUsd: res.body.usage.prompt_tokens * 1 + res.body.usage.completion_tokens * 2,
    });
    expect(line.durationMs).toBeGreaterThan(0);
    expect(out.lines.filter((l) => l.msg === 'request' && l.requestId === 'json-1')).toHaveLength(1);
  });

  it('writes the line for refused and unrouted requests too, with the generated id the client got', async () => {
    const refused = await fetch(`${gw.baseURL}/models`);
    expect(refused.status).toBe(401);
    const id = refused.headers.get('x-request-id')!;
    expect(await accessLine(out.lines, id)).toMatchObject({ method: 'GET', route: '/v1/models', status: 401, client: 'unauthenticated', tokensIn: 0 });

    const lost = await fetch(`${gw.url}/no/such/route`, { headers: { ...auth, 'x-request-id': 'json-404' } });
    expect(lost.status).toBe(404);
    const line = await accessLine(out.lines, 'json-404');
    expect(line).toMatchObject({ method: 'GET', path: '/no/such/route', status: 404, client: 'team-a' });
    expect(line.route).toBeUndefined();
  });

  it("gives every other line written while serving a request that request's id (here the gateway's warning of an upstream failure)", async () => {
    const res = await postJson(
      `${gw.baseURL}/chat/completions`,
      { model: 'down', messages: [{ role: 'user', content: 'x' }] },
      { ...auth, 'x-request-id': 'json-down' },
    );
    expect(res.status).toBe(503);
    await accessLine(out.lines, 'json-down');
    const warning = out.lines.find((l) => l.context === 'Gateway');
    expect(warning).toMatchObject({ level: 40, requestId: 'json-down' });
    expect(warning!.msg).toContain('POST /v1/chat/completions → 503 upstream_unavailable');
    expect(await accessLine(out.lines, 'json-down')).toMatchObject({ status: 503, model: 'down', instance: 'down', calls: 1, tokensIn: 0 });
    // Nothing else carries it, and no line has a key.
    expect(out.lines.filter((l) => l.requestId === 'json-down').map((l) => l.msg === 'request' || l.context)).toEqual(['Gateway', true]);
    expect(out.raw.join('\n')).not.toContain(KEY);
    expect(out.raw.join('\n')).not.toContain(UPSTREAM_KEY);
  });

  it('logs a stream once it has ended, with its tokens', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'x-request-id': 'json-stream' },
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'a b c d' }] }),
    });
    await res.text();
    expect(await accessLine(out.lines, 'json-stream')).toMatchObject({ status: 200, instance: 'chat', tokensIn: 4, client: 'team-a' });
  });
});

describe('GATEWAY_LOG_FORMAT', () => {
  it('npm start (bootstrap) with GATEWAY_LOG_FORMAT=json writes JSON lines to stdout', async () => {
    const upstream = await OpenAIFakeServer.start({ apiKey: UPSTREAM_KEY });
    const dir = mkdtempSync(join(tmpdir(), 'gateway-logs-'));
    writeFileSync(
      join(dir, 'providers.yaml'),
      ['llm:', '  chat:', '    type: openai-compatible', '    baseUrl: ${UPSTREAM_URL}', '    apiKey: ${UPSTREAM_KEY}', '    model: gpt-4o-mini', ''].join(
        '\n',
      ),
    );
    const written: string[] = [];
    const write = process.stdout.write;
    // Kept, not printed (the test output stays quiet); checked for keys below.
    process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
      written.push(String(chunk));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof process.stdout.write;
    try {
      const app = await bootstrap({
        env: { PROVIDERS_CONFIG: join(dir, 'providers.yaml'), PORT: '0', GATEWAY_LOG_FORMAT: 'json', UPSTREAM_URL: upstream.baseUrl, UPSTREAM_KEY },
        app: { forceCloseConnections: true },
      });
      try {
        const url = await app.getUrl();
        const res = await postJson(
          `${url}/v1/chat/completions`,
          { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
          { 'x-request-id': 'stdout-1' },
        );
        expect(res.status).toBe(200);
        const lines = () =>
          written
            .join('')
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as Record<string, any>);
        expect(await accessLine(lines, 'stdout-1')).toMatchObject({ status: 200, instance: 'chat', tokensIn: 1, client: 'anonymous' });
        expect(lines().find((l) => String(l.msg).startsWith('Listening on'))).toMatchObject({ context: 'Gateway', level: 30 });
        expect(written.join('')).not.toContain(UPSTREAM_KEY);
      } finally {
        await app.close();
      }
    } finally {
      process.stdout.write = write;
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is text by default, json or text when set; anything else stops the bootstrap', () => {
    expect(resolveLogFormat(undefined, {})).toBe('text');
    expect(resolveLogFormat(undefined, { GATEWAY_LOG_FORMAT: 'JSON' })).toBe('json');
    expect(resolveLogFormat(undefined, { GATEWAY_LOG_FORMAT: 'text' })).toBe('text');
    expect(resolveLogFormat('text', { GATEWAY_LOG_FORMAT: 'json' })).toBe('text');
    expect(() => resolveLogFormat(undefined, { GATEWAY_LOG_FORMAT: 'yaml' })).toThrow('GATEWAY_LOG_FORMAT must be text or json; got "yaml".');
  });
});
