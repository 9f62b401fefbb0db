import { UndiciTransport, type HttpTransport } from '@hush/providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type GatewayApp } from '../src/app.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { postJson, UPSTREAM_KEY } from './support/gateway-harness.js';

// Its own file: a second Nest app in a process replaces Nest's static logger for the first.
describe("the gateway over a transport of the app's own (providers.transport)", () => {
  let upstream: OpenAIFakeServer;
  let inner: UndiciTransport;
  let app: GatewayApp;
  let url: string;
  const sent: (string | undefined)[] = [];
  let closed = 0;

  beforeAll(async () => {
    upstream = await OpenAIFakeServer.start({ apiKey: UPSTREAM_KEY, defaultDimensions: 8 });
    inner = new UndiciTransport();
    const transport: HttpTransport = {
      request: (request) => {
        sent.push(request.headers['x-request-id']);
        return inner.request(request);
      },
      close: async () => {
        closed++;
      },
    };
    const compatible = (model: string) => ({ type: 'openai-compatible', baseUrl: upstream.baseUrl, apiKey: UPSTREAM_KEY, model, maxRetries: 0 });
    app = await createApp(
      {
        providers: {
          config: { llm: { chat: compatible('gpt-4o-mini') }, embedding: { docs: compatible('text-embedding-3-small') } },
          env: {},
          configPath: [],
          transport,
        },
        apiKeys: [],
      },
      { logger: false, forceCloseConnections: true },
    );
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await inner?.close();
    await upstream?.close();
  });

  it('sends every upstream request through it, with the request id added', async () => {
    const chat = await postJson(`${url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'r-chat' });
    const embed = await postJson(`${url}/v1/embeddings`, { model: 'docs', input: 'x' }, { 'x-request-id': 'r-embed' });
    expect([chat.status, embed.status]).toEqual([200, 200]);
    expect(sent).toEqual(['r-chat', 'r-embed']);
    expect(upstream.lastRequest!.headers['x-request-id']).toBe('r-embed');
  });

  it('leaves it open when the app closes (its owner closes it)', async () => {
    await app.close();
    expect(closed).toBe(0);
    // Still usable by its owner.
    const res = await inner.request({
      url: `${upstream.baseUrl}/models`,
      method: 'GET',
      headers: { authorization: `Bearer ${UPSTREAM_KEY}` },
      signal: new AbortController().signal,
    });
    expect(res.status).toBe(200);
    res.discard();
  });
});
