import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from '@hush/providers';
import { capturingLogger, postJson, startGateway, UPSTREAM_KEY, type GatewayHarness } from './support/gateway-harness.js';

/**
 * What clients and the public readiness report may learn about the upstreams: the instance's name
 * and the kind of failure, never where the upstream lives (URL, host, port). The detail goes to the
 * server log, free of secrets.
 */

// A configured secret that the library's own redaction never sees (it shows up in an error made elsewhere).
const INTERNAL_TOKEN = 'tok-internal-9f8e7d6c5b4a3f2e';

let gw: GatewayHarness;
let silent: Server;
let silentPort: number;
const sockets = new Set<Socket>();
const lines: string[] = [];

beforeAll(async () => {
  // Accepts connections and never answers: a call to it can only time out.
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as { port: number }).port;
  gw = await startGateway({
    app: { logger: capturingLogger(lines) },
    gateway: { health: { timeoutMs: 500 } },
    extra: (baseUrl) => ({
      llm: {
        silent: { type: 'openai-compatible', baseUrl: `http://localhost:${silentPort}/v1`, apiKey: UPSTREAM_KEY, model: 'm', maxRetries: 0, timeoutMs: 300 },
        vault: { type: 'openai-compatible', baseUrl, apiKey: INTERNAL_TOKEN, model: 'gpt-4o-mini', maxRetries: 0 },
      },
    }),
  });
});
afterAll(async () => {
  await gw?.close();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
});
beforeEach(() => {
  lines.length = 0;
  gw.upstream.reset();
});

const chat = (model: string) => postJson(`${gw.baseURL}/chat/completions`, { model, messages: [{ role: 'user', content: 'hello' }] });

/** No upstream address, no key. */
function expectNoTopology(text: string): void {
  expect(text).not.toContain('http://');
  expect(text).not.toContain('127.0.0.1');
  expect(text).not.toContain('localhost');
  expect(text).not.toContain(`:${gw.deadPort}`);
  expect(text).not.toContain(`:${silentPort}`);
  expect(text).not.toContain(gw.upstream.baseUrl);
  expect(text).not.toContain(UPSTREAM_KEY);
  expect(text).not.toContain(INTERNAL_TOKEN);
}

const log = () => lines.join('\n');

describe('error bodies name the instance and the kind of failure, not the upstream', () => {
  it('connection refused: 503 without host or port; the log has the URL, no key', async () => {
    const res = await chat('down');
    expect(res.status).toBe(503);
    expectNoTopology(res.text);
    expect(res.body.error.code).toBe('upstream_unavailable');
    expect(res.body.error.message).toContain('"down"');
    expect(res.body.error.message).toContain('connection');
    expect(res.body.error.message).toContain('ECONNREFUSED');

    expect(log()).toContain(`http://127.0.0.1:${gw.deadPort}/v1`);
    expect(log()).toContain('"down"');
    expect(log()).not.toContain(UPSTREAM_KEY);
  });

  it('an upstream that never answers: 504 without host or port; the log names the call', async () => {
    const res = await chat('silent');
    expect(res.status).toBe(504);
    expectNoTopology(res.text);
    expect(res.body.error.message).toContain('"silent"');
    expect(res.body.error.message).toContain('timeout');
    expect(log()).toContain('"silent"');
    expect(log()).not.toContain(UPSTREAM_KEY);
  });

  it('an upstream 5xx: its own words stay in the log (they are about the upstream, not the request)', async () => {
    gw.upstream.failNext(500, { message: `worker crashed at ${gw.upstream.baseUrl}/internal` });
    const res = await chat('chat');
    expect(res.status).toBe(502);
    expectNoTopology(res.text);
    expect(res.body.error.message).toContain('"chat"');
    expect(res.body.error.message).toContain('500');
    expect(log()).toContain('worker crashed');
  });

  it('an error made outside the library that carries a configured secret: redacted in the log and the body', async () => {
    gw.reranker.failures.push(
      new ProviderError(`reranker "rerank" (gateway-test-reranker): POST http://10.0.3.7:8000/rerank with token ${INTERNAL_TOKEN} answered 500`, {
        instance: 'rerank',
        type: 'gateway-test-reranker',
        kind: 'reranker',
        status: 500,
        retryable: false,
        code: 'http',
      }),
    );
    const res = await postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'q', documents: ['a'] });
    expect(res.status).toBe(502);
    expectNoTopology(res.text);
    expect(res.text).not.toContain('10.0.3.7');
    expect(res.body.error.message).toContain('"rerank"');
    expect(log()).toContain('10.0.3.7');
    expect(log()).toContain('with token ***');
    expect(log()).not.toContain(INTERNAL_TOKEN);
  });
});

describe('GET /health/ready (public) names the instance and the kind of failure, not the upstream', () => {
  it('reports error: "connection" / "timeout" without any address; the log has the detail', async () => {
    const res = await fetch(`${gw.url}/health/ready`);
    expect(res.status).toBe(503);
    const text = await res.text();
    expectNoTopology(text);
    const body = JSON.parse(text);
    expect(body.details['llm:down']).toMatchObject({ status: 'down', name: 'down', probed: true, error: 'connection' });
    expect(body.details['llm:down'].message).toContain('ECONNREFUSED');
    expect(body.details['llm:silent']).toMatchObject({ status: 'down', name: 'silent', probed: true, error: 'timeout' });
    expect(body.details['llm:chat']).toMatchObject({ status: 'up' });

    expect(log()).toContain(`http://127.0.0.1:${gw.deadPort}/v1`);
    expect(log()).toMatch(/llm:down/);
    expect(log()).not.toContain(UPSTREAM_KEY);
  });
});
