import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, ProvidersModule, ProvidersRegistry, UndiciTransport, type ChatCompletionChunk } from '@hush/providers';
import { SseReader } from '../libs/providers/src/http/undici-transport.js';
import { fakeEmbedding, OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { AT_ONCE_MS } from './support/timing.js';

/**
 * The transport under every HTTP provider type: keep-alive connections reused, aborts that leave no
 * socket behind, a server-sent-event reader that is right whatever the chunking, and embeddings in
 * the three vector forms.
 */

const user = [{ role: 'user' as const, content: 'hello there' }];
let fake: OpenAIFakeServer;
let module: TestingModule | undefined;

beforeAll(async () => {
  fake = await OpenAIFakeServer.start({});
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());
afterEach(async () => {
  await module?.close();
  module = undefined;
});

async function registry(): Promise<ProvidersRegistry> {
  module = await Test.createTestingModule({
    imports: [
      ProvidersModule.forRoot({
        configPath: [],
        env: {},
        config: {
          llm: { chat: { type: 'openai-compatible', baseUrl: fake.baseUrl, model: 'gpt-4o-mini', maxRetries: 0 } },
          embedding: { docs: { type: 'openai', baseUrl: fake.baseUrl, apiKey: 'sk-test-transport-0000', model: 'text-embedding-3-small' } },
        },
      }),
    ],
  }).compile();
  return module.get(ProvidersRegistry);
}

describe('connections', () => {
  it('reuses one keep-alive connection for calls one after the other, streams included', async () => {
    const llm = (await registry()).llm('chat');
    const before = fake.acceptedConnections;
    for (let i = 0; i < 20; i++) {
      await llm.generate(user);
      for await (const _ of llm.stream(user));
    }
    expect(fake.requests).toHaveLength(40);
    // A second connection may open while the first is being handed back; a leak would open one per call.
    expect(fake.acceptedConnections - before).toBeLessThanOrEqual(3);
  });

  it('leaves no socket open after aborted and abandoned calls, and closes the pool with the module', async () => {
    const llm = (await registry()).llm('chat');
    for (let i = 0; i < 10; i++) {
      fake.hangNext({ afterChunks: 1 });
      const controller = new AbortController();
      const reading = (async () => {
        for await (const _ of llm.stream(user, { signal: controller.signal })) controller.abort();
      })();
      await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    }
    for (let i = 0; i < 10; i++) {
      fake.hangNext({ afterChunks: 2 });
      for await (const _ of llm.stream(user)) break;
    }
    for (let i = 0; i < 10; i++) {
      fake.hangNext();
      await expect(llm.generate(user, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'AbortError' });
    }
    await waitUntil(() => fake.openSockets === 0, AT_ONCE_MS);
    await llm.generate(user);
    expect(fake.openSockets).toBe(1);
    await module!.close();
    module = undefined;
    await waitUntil(() => fake.openSockets === 0, AT_ONCE_MS);
  }, 30_000);

  it('drops a body unread (discard(), or a Content-Length over the limit) with no error escaping', async () => {
    const transport = new UndiciTransport();
    const escaped: unknown[] = [];
    const record = (err: unknown) => void escaped.push(err);
    process.on('uncaughtException', record);
    try {
      const get = () => transport.request({ url: `${fake.baseUrl}/models`, method: 'GET', headers: {}, signal: new AbortController().signal });
      (await get()).discard();
      const tooLarge = new Error('too large');
      await expect((await get()).text(10, () => tooLarge)).rejects.toBe(tooLarge);
      // undici reports a destroyed body's error a tick later.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(escaped).toEqual([]);
      // The pool still serves, and closing it closes every connection, the dropped ones' included.
      expect(JSON.parse(await (await get()).text(1e6, () => tooLarge)).object).toBe('list');
    } finally {
      process.off('uncaughtException', record);
      await transport.close();
    }
    await waitUntil(() => fake.openSockets === 0, AT_ONCE_MS);
  });
});

describe('server-sent events', () => {
  const events = (pieces: string[], max = 1_000) => {
    const reader = new SseReader(max, () => new Error('too large'));
    const out = pieces.flatMap((p) => reader.push(p));
    const last = reader.end();
    return last ? [...out, last] : out;
  };

  it('reads the same events however the text is cut, with LF or CRLF', () => {
    const text = 'data: {"a":1}\n\n: a comment\nevent: ping\ndata: x\n\ndata: line one\ndata: line two\n\ndata:nospace\n\nretry: 10\nid: 7\ndata: [DONE]\n\n';
    const expected = [
      { event: undefined, data: '{"a":1}' },
      { event: 'ping', data: 'x' },
      { event: undefined, data: 'line one\nline two' },
      { event: undefined, data: 'nospace' },
      { event: undefined, data: '[DONE]' },
    ];
    for (const eol of ['\n', '\r\n']) {
      const full = text.replaceAll('\n', eol);
      expect(events([full])).toEqual(expected);
      for (let cut = 1; cut < full.length; cut++) expect(events([full.slice(0, cut), full.slice(cut)])).toEqual(expected);
      expect(events(full.split(''))).toEqual(expected);
    }
  });

  it('gives the last event when the stream ends without a blank line', () => {
    expect(events(['data: a\n\ndata: b'])).toEqual([
      { event: undefined, data: 'a' },
      { event: undefined, data: 'b' },
    ]);
  });

  it('refuses an event longer than the limit, even when it comes in many small pieces', () => {
    expect(() =>
      events(
        Array.from({ length: 200 }, () => 'xxxxxxxxxx'),
        1_000,
      ),
    ).toThrow('too large');
    expect(() => events(['data: ' + 'y'.repeat(2_000) + '\n\n'], 1_000)).toThrow('too large');
    // Many events that add up to more than the limit are fine.
    expect(
      events(
        Array.from({ length: 500 }, () => 'data: ' + 'z'.repeat(100) + '\n\n'),
        1_000,
      ),
    ).toHaveLength(500);
  });

  it('keeps a character whose bytes arrive in two pieces', async () => {
    const text = 'data: {"content":"grüße 👋"}\n\n';
    const bytes = Buffer.from(text);
    const split = bytes.indexOf(Buffer.from('👋')) + 2;
    let server: Server | undefined;
    try {
      server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(bytes.subarray(0, split));
        setTimeout(() => res.end(bytes.subarray(split)), 20);
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const transport = new UndiciTransport();
      const response = await transport.request({
        url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
        method: 'POST',
        headers: {},
        body: '{}',
        signal: new AbortController().signal,
      });
      const seen = [];
      for await (const event of response.events(1_000, () => new Error('too large'))) seen.push(event);
      expect(seen).toEqual([{ event: undefined, data: '{"content":"grüße 👋"}' }]);
      await transport.close();
    } finally {
      server?.close();
    }
  });
});

describe('embedding vectors in three forms', () => {
  const texts = ['first text', 'a second one', 'and a third'];

  it('number lists by default, Float32Array rows or base64 strings on request, all the same vectors', async () => {
    const docs = (await registry()).embedder('docs');
    const numbers = await docs.embed(texts);
    const floats = await docs.embed(texts, { vectors: 'float32' });
    const base64 = await docs.embed(texts, { vectors: 'base64' });
    const expected = texts.map((t) => fakeEmbedding(t, 8));
    expect(numbers.embeddings).toEqual(expected);
    expect(floats.embeddings.every((v) => v instanceof Float32Array && v.length === 8)).toBe(true);
    expect(floats.embeddings.map((v) => Array.from(v))).toEqual(expected);
    expect(base64.embeddings.map((v) => Array.from(new Float32Array(new Uint8Array(Buffer.from(v, 'base64')).buffer)))).toEqual(expected);
    expect(fake.requests.every((r) => r.body.encoding_format === 'base64')).toBe(true);
    for (const result of [numbers, floats, base64]) expect(result.dimensions).toBe(8);
  });

  it('refuses an unknown vectors option, before any request', async () => {
    const docs = (await registry()).embedder('docs');
    const error = await docs.embed(texts, { vectors: 'float64' as never }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as Error).message).toBe('embedding "docs" (openai): the vectors option must be one of number, float32, base64; got float64.');
    expect(fake.requests).toHaveLength(0);
  });
});

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export type { ChatCompletionChunk };
