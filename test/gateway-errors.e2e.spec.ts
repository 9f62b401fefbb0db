import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from '@hush/providers';
import { postJson, startGateway, UPSTREAM_KEY, type GatewayHarness } from './support/gateway-harness.js';

const WRONG_KEY = 'sk-wrong-upstream-key-9876543210';

let gw: GatewayHarness;
let openai: OpenAI;

beforeAll(async () => {
  gw = await startGateway({
    // The same fake upstream, with a key it refuses (401): the gateway's own configuration is wrong.
    extra: (baseUrl) => ({
      llm: {
        misconfigured: { type: 'openai-compatible', baseUrl, model: 'gpt-4o-mini', apiKey: WRONG_KEY, maxRetries: 0 },
        guarded: {
          type: 'openai-compatible',
          baseUrl,
          model: 'gpt-4o-mini',
          apiKey: UPSTREAM_KEY,
          refusedParams: ['store', 'metadata'],
          fixedParams: { service_tier: 'default' },
          maxTokensCap: 64,
        },
      },
    }),
  });
  openai = new OpenAI({ apiKey: 'unused', baseURL: gw.baseURL, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
});
beforeEach(() => {
  gw.upstream.reset();
  gw.reranker.failures.length = 0;
});

const chat = (model = 'chat', extra: Record<string, unknown> = {}) =>
  postJson(`${gw.baseURL}/chat/completions`, { model, messages: [{ role: 'user', content: 'hello' }], ...extra });

/** Nothing a client must not see: the upstream key, a stack trace. */
function expectNoLeak(text: string): void {
  expect(text).not.toContain(UPSTREAM_KEY);
  expect(text).not.toContain(UPSTREAM_KEY.slice(-12));
  expect(text).not.toContain(WRONG_KEY);
  expect(text).not.toContain(WRONG_KEY.slice(-4)); // the fake echoes the key's last 4 characters, like OpenAI
  expect(text).not.toMatch(/\n\s+at /);
  expect(text).not.toContain('.ts:');
}

describe('upstream failures map to 502 / 503 / 504 in OpenAI shape', () => {
  it('upstream 500 → 502 upstream_error, naming the upstream status', async () => {
    gw.upstream.failNext(500, { message: 'the model crashed' });
    const res = await chat();
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ type: 'upstream_error', param: null, code: 'upstream_error' });
    expect(res.body.error.message).toContain('500');
    expect(res.body.error.message).toContain('"chat"');
    // The upstream's words about its own failure go to the log, not to the client.
    expect(res.body.error.message).not.toContain('the model crashed');
    expectNoLeak(res.text);
  });

  it('upstream 429 → 503 upstream_rate_limited, passing Retry-After on', async () => {
    gw.upstream.failNext(429, { message: 'Rate limit reached' }, { headers: { 'retry-after': '7' } });
    const res = await chat();
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_rate_limited' });
    expect(res.body.error.message).toContain('429');
    expect(res.headers.get('retry-after')).toBe('7');
    expectNoLeak(res.text);
  });

  it('upstream 503 (overloaded) → 503 upstream_unavailable', async () => {
    gw.upstream.failNext(503, { message: 'overloaded' });
    const res = await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: 'x' });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_unavailable' });
    expect(res.body.error.message).toContain('503');
  });

  it('connection refused → 503 upstream_unavailable', async () => {
    const res = await chat('down');
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_unavailable' });
    expect(res.body.error.message).toContain('ECONNREFUSED');
    expectNoLeak(res.text);
  });

  it('no answer within timeoutMs → 504 upstream_timeout', async () => {
    gw.upstream.hangNext();
    const started = Date.now();
    const res = await chat('strict');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.status).toBe(504);
    expect(res.body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_timeout' });
    expect(res.body.error.message).toContain('timeoutMs 400');
  });

  it('a stream whose first chunk never comes → 504 as an HTTP status, not a broken stream', async () => {
    gw.upstream.hangNext({ afterChunks: 0 });
    const res = await chat('stalls', { stream: true });
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body.error).toMatchObject({ code: 'upstream_timeout' });
    expect(res.body.error.message).toContain('idleTimeoutMs 300');
  });

  it('upstream 401 (the gateway holds a bad key) → 502, the key never shown', async () => {
    const res = await chat('misconfigured');
    expect(gw.upstream.lastRequest!.headers.authorization).toBe(`Bearer ${WRONG_KEY}`);
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ code: 'upstream_error' });
    expect(res.body.error.message).toContain('401');
    expectNoLeak(res.text);
  });

  it('upstream 400 without a code of its own → 400 upstream_rejected_request with its message and param', async () => {
    gw.upstream.failNext(400, { message: "Invalid schema for function 'f'", param: 'tools[0]' });
    const res = await chat();
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'upstream_rejected_request', param: 'tools[0]' });
    expect(res.body.error.message).toContain("Invalid schema for function 'f'");
    expect(res.body.error.message).toContain('400');
    expect(res.body.error.message).toContain('"chat"');
    expectNoLeak(res.text);
  });

  it('a malformed upstream answer → 502', async () => {
    gw.upstream.enqueue({ kind: 'raw', status: 200, body: '<html>proxy error</html>', contentType: 'application/json' });
    const res = await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: 'x' });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_error');
    expectNoLeak(res.text);
  });

  it('a reranker failure maps the same way (503)', async () => {
    gw.reranker.failures.push(
      new ProviderError('reranker "rerank" (gateway-test-reranker): upstream answered 503 Service Unavailable', {
        instance: 'rerank',
        type: 'gateway-test-reranker',
        kind: 'reranker',
        status: 503,
        retryable: false,
        code: 'http',
      }),
    );
    const res = await postJson(`${gw.baseURL}/rerank`, { model: 'rerank', query: 'q', documents: ['a'] });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: {
        message: 'reranker "rerank" (gateway-test-reranker) failed (http 503): the upstream answered 503 Service Unavailable',
        type: 'upstream_error',
        param: null,
        code: 'upstream_unavailable',
      },
    });
  });

  it('the official client sees these as its own error classes', async () => {
    gw.upstream.failNext(500);
    const err = await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_error');
  });
});

describe('upstream client errors (400, 404, 413, 422) pass on with the upstream status, code, param and type', () => {
  it('context_length_exceeded reaches the official client as the upstream sent it', async () => {
    gw.upstream.failNext(400, {
      message:
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.",
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    });
    const err = await openai.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'a very long conversation' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const apiError = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(400);
    expect(apiError.code).toBe('context_length_exceeded');
    expect(apiError.param).toBe('messages');
    expect(apiError.type).toBe('invalid_request_error');
    expect(apiError.message).toContain('maximum context length is 128000 tokens');
    expect(apiError.message).toContain('"chat"');
  });

  it.each([
    [
      404,
      { message: 'The model `gpt-9` does not exist or you do not have access to it.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
    ],
    [413, { message: 'Request too large for gpt-4o-mini.', type: 'invalid_request_error', param: 'messages', code: 'request_too_large' }],
    [422, { message: 'Unprocessable input.', type: 'validation_error', param: 'input', code: 'unprocessable' }],
  ] as const)('upstream %i keeps its status, code, param and type; the message names the instance', async (status, error) => {
    gw.upstream.failNext(status, error);
    const res = await postJson(`${gw.baseURL}/embeddings`, { model: 'docs', input: 'x' });
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ type: error.type, param: error.param, code: error.code });
    expect(res.body.error.message).toContain(error.message);
    expect(res.body.error.message).toContain('"docs"');
    expect(res.text).not.toContain(gw.upstream.baseUrl);
    expect(res.text).not.toContain('http://');
    expectNoLeak(res.text);
  });

  it('upstream 401 / 403 stay 502: the gateway holds the key, the client cannot fix it', async () => {
    gw.upstream.failNext(403, { message: 'Project does not have access', type: 'invalid_request_error', code: 'unsupported_country_region_territory' });
    const res = await chat();
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ type: 'upstream_error', param: null, code: 'upstream_error' });
    expect(res.body.error.message).toContain('403');
  });
});

describe('shutdown', () => {
  it('a call that arrives during the grace period gets 503 server_shutting_down with Retry-After', async () => {
    const own = await startGateway();
    let closing: Promise<void> | undefined;
    const controller = new AbortController();
    try {
      own.upstream.hangNext();
      const inFlight = fetch(`${own.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'slow' }] }),
        signal: controller.signal,
      }).catch((e: unknown) => e);
      await own.upstream.waitFor((reqs) => reqs.length === 1);
      // The call in flight keeps the grace period open while the HTTP server still takes requests.
      closing = own.app.close();
      let res: Awaited<ReturnType<typeof postJson>> | undefined;
      for (let i = 0; i < 100; i++) {
        res = await postJson(`${own.baseURL}/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'late' }] });
        if (res.status !== 200) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(res!.status).toBe(503);
      expect(res!.body.error).toMatchObject({ type: 'server_error', param: null, code: 'server_shutting_down' });
      expect(res!.body.error.message).toContain('shutting down');
      expect(res!.headers.get('retry-after')).toBe('1');
      expect(res!.headers.get('connection')).toBe('close');
      controller.abort();
      expect(await inFlight).toMatchObject({ name: 'AbortError' });
    } finally {
      controller.abort();
      await (closing ?? own.app.close());
      await own.upstream.close();
    }
  });
});

describe('failures after the stream has started', () => {
  it('end the stream with an SSE error event (no [DONE]), which the official client throws', async () => {
    // Two chunks, then silence: the idle timeout (300 ms) fires mid-stream.
    gw.upstream.hangNext({ afterChunks: 2 });
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stalls', stream: true, messages: [{ role: 'user', content: 'hello there' }] }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const events = text
      .slice(0, -2)
      .split('\n\n')
      .map((e) => e.replace(/^data: /, ''));
    expect(text.endsWith('\n\n')).toBe(true);
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[0]!).choices[0].delta.role).toBe('assistant');
    expect(JSON.parse(events[1]!).choices[0].delta.content).toBe('echo:');
    const last = JSON.parse(events[2]!);
    expect(Object.keys(last)).toEqual(['error']);
    expect(last.error).toMatchObject({ type: 'upstream_error', param: null, code: 'upstream_timeout' });
    expect(text).not.toContain('[DONE]');
    expectNoLeak(text);

    gw.upstream.hangNext({ afterChunks: 3 });
    const stream = await openai.chat.completions.create({ model: 'stalls', stream: true, messages: [{ role: 'user', content: 'again' }] });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(seen.join('')).toBe('echo: again');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_timeout');
  });
});

describe('client disconnects', () => {
  it('a streaming client that goes away aborts the upstream request; chunks were flushed as they came', async () => {
    // The upstream sends the role chunk and one word, then holds the stream open forever.
    gw.upstream.hangNext({ afterChunks: 2 });
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'chat', stream: true, messages: [{ role: 'user', content: 'a long answer' }] },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    const second = await iterator.next();
    // Both arrived while the upstream was still open: nothing was buffered until the end.
    expect(first.value?.choices[0]?.delta.role).toBe('assistant');
    expect(second.value?.choices[0]?.delta.content).toBe('echo:');
    expect(gw.upstream.lastRequest!.finished).toBe(false);
    expect(gw.upstream.lastRequest!.aborted).toBe(false);

    controller.abort();
    await gw.upstream.waitForClientAbort(undefined, 2000);
    expect(gw.upstream.lastRequest!.aborted).toBe(true);
  });

  it('a non-streaming client that goes away aborts the upstream request too', async () => {
    gw.upstream.hangNext();
    const controller = new AbortController();
    const pending = fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await gw.upstream.waitFor((reqs) => reqs.length === 1);
    controller.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    await gw.upstream.waitForClientAbort(undefined, 2000);
  });
});

describe("the operator's controls over what clients ask for", () => {
  it('refusedParams: 400 invalid_value naming the field; nothing goes upstream', async () => {
    const res = await chat('guarded', { store: true });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      message:
        'llm "guarded" (openai-compatible) failed (bad-input): the call sets "store", which this instance does not take from callers (refusedParams). Leave it out.',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_value',
    });
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('maxTokensCap: a larger max_tokens is a 400; none asked for sends the cap; fixedParams win over the client', async () => {
    const refused = await chat('guarded', { max_tokens: 100_000 });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe(
      'llm "guarded" (openai-compatible) failed (bad-input): max_tokens 100000 is above this instance\'s cap of 64 (maxTokensCap); ask for 64 or fewer.',
    );
    const ok = await chat('guarded', { service_tier: 'priority' });
    expect(ok.status).toBe(200);
    expect(gw.upstream.requests).toHaveLength(1);
    expect(gw.upstream.lastRequest!.body).toMatchObject({ max_tokens: 64, service_tier: 'default' });
  });
});
