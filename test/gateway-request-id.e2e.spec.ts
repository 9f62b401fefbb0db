import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayObservability } from '../src/observability/observability.js';
import { requestIdFrom } from '../src/observability/request-context.js';
import { capturingLogger, postJson, startGateway, type GatewayHarness } from './support/gateway-harness.js';

const KEY = 'sk-test-client-request-id-01';
const auth = { authorization: `Bearer ${KEY}` };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const chatBody = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

let gw: GatewayHarness;
const lines: string[] = [];

beforeAll(async () => {
  gw = await startGateway({ apiKeys: [`ops:${KEY}`], app: { logger: capturingLogger(lines) } });
});
afterAll(async () => {
  await gw?.close();
});
beforeEach(() => {
  gw.upstream.reset();
  lines.length = 0;
});

/** A raw HTTP request (fetch refuses some of the header values tried here). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; id: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, id: res.headers['x-request-id'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('x-request-id', () => {
  it("takes the client's id, answers with it and sends it upstream", async () => {
    const id = 'client-req_42.A~Z:!';
    const res = await postJson(`${gw.baseURL}/chat/completions`, chatBody, { ...auth, 'x-request-id': id });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);
    expect(gw.upstream.lastRequest!.headers['x-request-id']).toBe(id);
  });

  it('makes one (a UUID) when the client sent none, the same on the answer and upstream', async () => {
    const res = await postJson(`${gw.baseURL}/chat/completions`, chatBody, auth);
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    expect(gw.upstream.lastRequest!.headers['x-request-id']).toBe(id);
    // Each request its own.
    const again = await postJson(`${gw.baseURL}/chat/completions`, chatBody, auth);
    expect(again.headers.get('x-request-id')).toMatch(UUID);
    expect(again.headers.get('x-request-id')).not.toBe(id);
  });

  it('replaces an id that is not 1 to 128 characters of visible ASCII', async () => {
    const longest = 'a'.repeat(128);
    expect((await rawGet(`${gw.url}/health`, { 'x-request-id': longest })).id).toBe(longest);
    for (const bad of ['a'.repeat(129), 'two words', 'tab\there', 'caf\u00e9', '']) {
      const { status, id } = await rawGet(`${gw.url}/health`, { 'x-request-id': bad });
      expect([JSON.stringify(bad), status]).toEqual([JSON.stringify(bad), 200]);
      expect(id).toMatch(UUID);
    }
    // Two ids (Node joins them with ", "): replaced too.
    const twice = await new Promise<string | undefined>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/health`, (res) => {
        res.resume();
        resolve(res.headers['x-request-id'] as string | undefined);
      });
      req.setHeader('x-request-id', ['one', 'two']);
      req.on('error', reject);
      req.end();
    });
    expect(twice).toMatch(UUID);
    // What an invalid id was replaced with is what goes upstream.
    const res = await postJson(`${gw.baseURL}/chat/completions`, chatBody, { ...auth, 'x-request-id': 'x'.repeat(200) });
    expect(res.headers.get('x-request-id')).toMatch(UUID);
    expect(gw.upstream.lastRequest!.headers['x-request-id']).toBe(res.headers.get('x-request-id'));
  });

  it('is on every answer: 401, 404 (route and model), 400 (body, JSON, URL), health (200 and 503), metrics, models', async () => {
    const answers: Array<[string, Response]> = [
      ['401', await fetch(`${gw.baseURL}/models`, { headers: { 'x-request-id': 'r-401' } })],
      [
        '401 with a body',
        await fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'x-request-id': 'r-401b', 'content-type': 'application/json' },
          body: '{}',
        }),
      ],
      ['404 url', await fetch(`${gw.url}/nowhere`, { headers: { ...auth, 'x-request-id': 'r-404' } })],
      ['404 model', await fetch(`${gw.baseURL}/models/none`, { headers: { ...auth, 'x-request-id': 'r-404m' } })],
      [
        '400 body',
        await fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { ...auth, 'x-request-id': 'r-400', 'content-type': 'application/json' },
          body: '{"model":5}',
        }),
      ],
      [
        '400 json',
        await fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { ...auth, 'x-request-id': 'r-400j', 'content-type': 'application/json' },
          body: '{nope',
        }),
      ],
      ['400 url', await fetch(`${gw.url}/v1/models/%E0%A4%A`, { headers: { ...auth, 'x-request-id': 'r-400u' } })],
      ['health', await fetch(`${gw.url}/health`, { headers: { 'x-request-id': 'r-health' } })],
      ['ready', await fetch(`${gw.url}/health/ready`, { headers: { 'x-request-id': 'r-ready' } })],
      ['metrics', await fetch(`${gw.url}/metrics`, { headers: { ...auth, 'x-request-id': 'r-metrics' } })],
      ['models', await fetch(`${gw.baseURL}/models`, { headers: { ...auth, 'x-request-id': 'r-models' } })],
    ];
    const expected: Record<string, [number, string]> = {
      '401': [401, 'r-401'],
      '401 with a body': [401, 'r-401b'],
      '404 url': [404, 'r-404'],
      '404 model': [404, 'r-404m'],
      '400 body': [400, 'r-400'],
      '400 json': [400, 'r-400j'],
      '400 url': [400, 'r-400u'],
      health: [200, 'r-health'],
      // The harness has an instance on a closed port: terminus' own 503 report.
      ready: [503, 'r-ready'],
      metrics: [200, 'r-metrics'],
      models: [200, 'r-models'],
    };
    for (const [what, res] of answers) {
      await res.arrayBuffer();
      expect([what, res.status, res.headers.get('x-request-id')]).toEqual([what, ...expected[what]!]);
    }
  });

  it('is on a server-sent event stream, and sent upstream with the streaming call', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'x-request-id': 'r-stream' },
      body: JSON.stringify({ ...chatBody, stream: true }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-request-id')).toBe('r-stream');
    expect(await res.text()).toContain('data: [DONE]');
    expect(gw.upstream.lastRequest!.headers['x-request-id']).toBe('r-stream');
  });

  it('is sent upstream with embeddings too', async () => {
    const res = await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: 'x' }, { ...auth, 'x-request-id': 'r-embed' });
    expect(res.headers.get('x-request-id')).toBe('r-embed');
    expect(gw.upstream.lastRequest!.headers['x-request-id']).toBe('r-embed');
  });

  it("is in every log line written while serving the request (text logs: `[<id>] ` first), and in no other request's", async () => {
    const failed = await postJson(`${gw.baseURL}/chat/completions`, { ...chatBody, model: 'down' }, { ...auth, 'x-request-id': 'r-down' });
    expect(failed.status).toBe(503);
    await postJson(`${gw.baseURL}/chat/completions`, chatBody, { ...auth, 'x-request-id': 'r-fine' });
    const gateway = lines.filter((l) => l.startsWith('Gateway:'));
    expect(gateway.length).toBeGreaterThan(0);
    for (const line of gateway) expect(line).toMatch(/^Gateway: \[r-down\] POST \/v1\/chat\/completions → 503 upstream_unavailable: /);
    expect(lines.join('\n')).not.toContain('r-fine');
    expect(lines.join('\n')).not.toContain(KEY);
  });
});

describe('trace context without a trace exporter (the default)', () => {
  it('records no spans, yet continues the trace: the upstream gets the traceparent the client sent', async () => {
    expect(process.env.OTEL_TRACES_EXPORTER ?? 'none').toBe('none');
    expect(gw.app.get(GatewayObservability).telemetry!.tracing).toBe(false);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await postJson(`${gw.baseURL}/chat/completions`, chatBody, { ...auth, traceparent });
    expect(gw.upstream.lastRequest!.headers.traceparent).toBe(traceparent);
    // Without one: nothing is made up.
    await postJson(`${gw.baseURL}/chat/completions`, chatBody, auth);
    expect(gw.upstream.lastRequest!.headers.traceparent).toBeUndefined();
  });
});

describe('requestIdFrom', () => {
  it('keeps 1 to 128 visible ASCII characters, else makes a UUID', () => {
    expect(requestIdFrom('abc')).toBe('abc');
    expect(requestIdFrom('!~')).toBe('!~');
    expect(requestIdFrom(undefined)).toMatch(UUID);
    expect(requestIdFrom(['a', 'b'])).toMatch(UUID);
    expect(requestIdFrom('a\u007f')).toMatch(UUID);
    expect(requestIdFrom('\u00ff')).toMatch(UUID);
  });
});
