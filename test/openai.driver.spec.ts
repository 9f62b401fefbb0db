import 'reflect-metadata';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { secretFieldsOf } from '../libs/providers/src/core/config-fields.js';
import { configValidation } from '../libs/providers/src/core/validation.js';
import { OpenAICompatibleEmbedderConfig, openaiCompatibleEmbedder } from '../libs/providers/src/providers/openai/openai-compatible.embedder.js';
import { OpenAIEmbedderConfig, openaiEmbedder } from '../libs/providers/src/providers/openai/openai.embedder.js';
import type { EmbedderBatchResult, EmbedderDriver } from '../libs/providers/src/core/embedder.js';
import { ProviderError } from '../libs/providers/src/core/provider-error.js';
import type { ChatCompletionChunk, LLMDriver } from '../libs/providers/src/core/llm.js';
import { OpenAICompatibleLLMConfig, openaiCompatibleLLM } from '../libs/providers/src/providers/openai/openai-compatible.llm.js';
import { OpenAILLMConfig, openaiLLM } from '../libs/providers/src/providers/openai/openai.llm.js';
import type { AnyProviderDefinition, DriverContext } from '../libs/providers/src/core/provider-definition.js';
import { retryAfterMs } from '../libs/providers/src/http/http-errors.js';
import { fakeEmbedding, OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { freePort } from './support/local-process.js';
import { expectNoKey as expectKeyAbsent, expectQuickAbort, printable, rejection } from './support/provider-kit.js';

const API_KEY = 'sk-test-SECRETKEY0123456789-zq9X';
const WRONG_KEY = 'sk-test-WRONGKEY9876543210-pw7Y';

const logLines: string[] = [];
const logger = {
  log: (m: unknown) => void logLines.push(`log ${String(m)}`),
  error: (m: unknown) => void logLines.push(`error ${String(m)}`),
  warn: (m: unknown) => void logLines.push(`warn ${String(m)}`),
  debug: (m: unknown) => void logLines.push(`debug ${String(m)}`),
  verbose: (m: unknown) => void logLines.push(`verbose ${String(m)}`),
};

/** Validates a plain entry the way the loader does, then creates the driver through the definition. */
async function create<D>(def: AnyProviderDefinition, plain: Record<string, unknown>, name = 'chat'): Promise<D> {
  const { validator, transformer } = configValidation();
  const config = transformer.plainToInstance(def.config, { type: def.type, ...plain }, { exposeDefaultValues: true });
  const errors = validator.validateSync(config, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
  expect(errors.map((e) => `${e.property}: ${JSON.stringify(e.constraints)}`)).toEqual([]);
  const context: DriverContext = { name, kind: def.kind, type: def.type, logger };
  return (await def.create(config, context)) as D;
}

function validationProblems(configClass: new () => object, plain: Record<string, unknown>): string[] {
  const { validator, transformer } = configValidation();
  const config = transformer.plainToInstance(configClass, plain, { exposeDefaultValues: true });
  return validator.validateSync(config, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false }).map((e) => e.property);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Runs `fn` and returns what it rejected with (fails the test if it resolved). */
function expectNoKey(text: string, key = API_KEY): void {
  expectKeyAbsent(text, key);
}

const signal = () => new AbortController().signal;
/** A driver's vectors as number lists, whichever form it gave them in. */
const rows = (result: EmbedderBatchResult) => (result.embeddings ?? []).map((v) => Array.from(v));
const user = (content: string) => [{ role: 'user' as const, content }];

let fake: OpenAIFakeServer;

beforeAll(async () => {
  fake = await OpenAIFakeServer.start({ apiKey: API_KEY });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  logLines.length = 0;
});

describe('config classes', () => {
  it('openai requires model and apiKey; baseUrl, organization, project, headers are optional', () => {
    expect(validationProblems(OpenAILLMConfig, { type: 'openai' }).sort()).toEqual(['apiKey', 'model']);
    expect(validationProblems(OpenAILLMConfig, { type: 'openai', model: 'm', apiKey: 'k' })).toEqual([]);
    expect(
      validationProblems(OpenAIEmbedderConfig, {
        type: 'openai',
        model: 'm',
        apiKey: 'k',
        baseUrl: 'http://proxy:8080/v1',
        organization: 'org',
        project: 'proj',
        headers: { 'X-Team': 'a' },
        dimensions: 256,
        batchSize: 100,
      }),
    ).toEqual([]);
  });

  it('openai-compatible requires baseUrl, not apiKey', () => {
    expect(validationProblems(OpenAICompatibleLLMConfig, { type: 'openai-compatible', model: 'm' })).toEqual(['baseUrl']);
    expect(validationProblems(OpenAICompatibleLLMConfig, { type: 'openai-compatible', model: 'm', baseUrl: 'http://vllm:8000/v1' })).toEqual([]);
    expect(validationProblems(OpenAICompatibleEmbedderConfig, { type: 'openai-compatible', model: 'm', baseUrl: 'http://127.0.0.1:11434/v1' })).toEqual([]);
  });

  it('refuses unknown keys, bad URLs, bad headers, bad flags', () => {
    expect(validationProblems(OpenAILLMConfig, { type: 'openai', model: 'm', apiKey: 'k', baseURL: 'http://x/v1' })).toEqual(['baseURL']);
    expect(validationProblems(OpenAILLMConfig, { type: 'openai', model: 'm', apiKey: 'k', baseUrl: 'api.openai.com/v1' })).toEqual(['baseUrl']);
    expect(validationProblems(OpenAILLMConfig, { type: 'openai', model: 'm', apiKey: 'k', baseUrl: 'ftp://x/v1' })).toEqual(['baseUrl']);
    expect(validationProblems(OpenAILLMConfig, { type: 'openai', model: 'm', apiKey: 'k', baseUrl: 'http://user:pw@proxy:8080/v1' })).toEqual(['baseUrl']);
    expect(validationProblems(OpenAILLMConfig, { type: 'openai', model: 'm', apiKey: 'k', headers: { 'X-N': 5 } })).toEqual(['headers']);
    expect(validationProblems(OpenAILLMConfig, { type: 'openai', model: 'm', apiKey: 'k', headers: { 'bad header': 'v' } })).toEqual(['headers']);
    // organization belongs to OpenAI, not to a local server.
    expect(validationProblems(OpenAICompatibleLLMConfig, { type: 'openai-compatible', model: 'm', baseUrl: 'http://x:1/v1', organization: 'o' })).toEqual([
      'organization',
    ]);
    expect(validationProblems(OpenAICompatibleLLMConfig, { type: 'openai-compatible', model: 'm', baseUrl: 'http://x:1/v1', streamUsage: 'yes' })).toEqual([
      'streamUsage',
    ]);
    expect(
      validationProblems(OpenAICompatibleEmbedderConfig, { type: 'openai-compatible', model: 'm', baseUrl: 'http://x:1/v1', encodingFormat: 'int8' }),
    ).toEqual(['encodingFormat']);
    // streamUsage is an LLM flag only.
    expect(validationProblems(OpenAICompatibleEmbedderConfig, { type: 'openai-compatible', model: 'm', baseUrl: 'http://x:1/v1', streamUsage: false })).toEqual(
      ['streamUsage'],
    );
  });

  it('takes streamUsage "false" from an environment variable', () => {
    const { validator, transformer } = configValidation();
    const config = transformer.plainToInstance(OpenAICompatibleLLMConfig, {
      type: 'openai-compatible',
      model: 'm',
      baseUrl: 'http://x:1/v1',
      streamUsage: 'false',
    });
    expect(validator.validateSync(config, { whitelist: true, forbidNonWhitelisted: true })).toEqual([]);
    expect(config.streamUsage).toBe(false);
  });

  it('marks apiKey and headers secret', () => {
    for (const cls of [OpenAILLMConfig, OpenAICompatibleLLMConfig, OpenAIEmbedderConfig, OpenAICompatibleEmbedderConfig]) {
      const secrets = secretFieldsOf(cls);
      expect(secrets.has('apiKey')).toBe(true);
      expect(secrets.has('headers')).toBe(true);
      expect(secrets.has('model')).toBe(false);
    }
  });
});

describe('openai llm: generate', () => {
  it('sends model, messages, params and the key; returns the ChatCompletion', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    expect(llm.model).toBe('gpt-4o-mini');
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'hello there' },
    ];
    const completion = await llm.generate(messages, { temperature: 0.2, max_tokens: 50, seed: 7, signal: signal() });

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req.body).toEqual({ model: 'gpt-4o-mini', messages, temperature: 0.2, max_tokens: 50, seed: 7, stream: false });
    // One attempt per call: the library retries, nothing under it does.
    expect(fake.requests).toHaveLength(1);

    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('gpt-4o-mini');
    expect(completion.choices[0]!.message.content).toBe('echo: hello there');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
  });

  it('keeps the driver in charge of model, messages and stream, and drops stream_options', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    // What YAML `params` could smuggle in (it is a free map).
    const loose = { signal: signal(), stream: true, model: 'other', timeoutMs: 5, stream_options: { include_usage: true }, top_p: 0.5 } as never;
    const completion = await llm.generate(user('x'), loose);
    expect(completion.choices[0]!.message.content).toBe('echo: x');
    expect(fake.lastRequest!.body).toEqual({ model: 'gpt-4o-mini', messages: user('x'), top_p: 0.5, stream: false });
  });

  it('sends organization, project and custom headers', async () => {
    const llm = await create<LLMDriver>(openaiLLM, {
      model: 'gpt-4o-mini',
      apiKey: API_KEY,
      baseUrl: fake.baseUrl,
      organization: 'org-1',
      project: 'proj_2',
      headers: { 'X-Team': 'search' },
    });
    await llm.generate(user('hi'), { signal: signal() });
    const headers = fake.lastRequest!.headers;
    expect(headers['openai-organization']).toBe('org-1');
    expect(headers['openai-project']).toBe('proj_2');
    expect(headers['x-team']).toBe('search');
  });

  it('keeps the key out of JSON and inspect of the driver', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'e', apiKey: API_KEY, baseUrl: fake.baseUrl });
    for (const driver of [llm, embedder]) {
      expectNoKey(JSON.stringify(driver));
      expectNoKey(inspect(driver, { depth: Infinity, showHidden: true, getters: true }));
      expectNoKey(String(driver));
    }
  });
});

describe('openai llm: stream', () => {
  it('asks for usage and yields the chunks in order, usage on the last', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    const chunks = await collect(llm.stream(user('one two three'), { temperature: 0, signal: signal() }));

    expect(fake.lastRequest!.body).toEqual({
      model: 'gpt-4o-mini',
      messages: user('one two three'),
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(chunks.map((c) => c.object)).toEqual(Array(chunks.length).fill('chat.completion.chunk'));
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('echo: one two three');
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it("honours the caller's own stream_options", async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    const chunks = await collect(llm.stream(user('a'), { stream_options: { include_usage: false }, signal: signal() }));
    expect(fake.lastRequest!.body.stream_options).toEqual({ include_usage: false });
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it('yields chunks as they come, not at the end', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.hangNext({ afterChunks: 2 });
    const controller = new AbortController();
    const iterator = llm.stream(user('never finished'), { signal: controller.signal })[Symbol.asyncIterator]();
    const first = await iterator.next();
    const second = await iterator.next();
    expect(first.value.choices[0].delta.role).toBe('assistant');
    expect(second.value.choices[0].delta.content).toBe('echo:');
    controller.abort();
    await expect(iterator.next()).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('aborts the HTTP request when the consumer breaks early', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.hangNext({ afterChunks: 3 });
    const seen: ChatCompletionChunk[] = [];
    for await (const chunk of llm.stream(user('stop early please'), { signal: signal() })) {
      seen.push(chunk);
      if (seen.length === 2) break;
    }
    expect(seen).toHaveLength(2);
    await fake.waitForClientAbort(undefined, 1000);
    expect(fake.lastRequest!.aborted).toBe(true);
  });
});

describe('openai-compatible llm', () => {
  it('sends no Authorization without apiKey, even with OPENAI_API_KEY and OPENAI_BASE_URL set', async () => {
    const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };
    process.env.OPENAI_API_KEY = 'sk-from-the-environment-0000';
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9/v1';
    try {
      const open = await OpenAIFakeServer.start();
      try {
        const llm = await create<LLMDriver>(openaiCompatibleLLM, { model: 'qwen2.5', baseUrl: open.baseUrl }, 'local');
        const completion = await llm.generate(user('hi'), { signal: signal() });
        expect(completion.choices[0]!.message.content).toBe('echo: hi');
        expect(open.requests).toHaveLength(1);
        expect(open.lastRequest!.headers.authorization).toBeUndefined();
        expect(open.lastRequest!.body.model).toBe('qwen2.5');
      } finally {
        await open.close();
      }
    } finally {
      for (const [k, v] of [
        ['OPENAI_API_KEY', saved.key],
        ['OPENAI_BASE_URL', saved.url],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('sends the key when given, and an Authorization from headers when that is how the server wants it', async () => {
    const withKey = await create<LLMDriver>(openaiCompatibleLLM, { model: 'm', apiKey: API_KEY, baseUrl: fake.baseUrl }, 'local');
    await withKey.generate(user('a'), { signal: signal() });
    expect(fake.lastRequest!.headers.authorization).toBe(`Bearer ${API_KEY}`);

    const viaHeaders = await create<LLMDriver>(
      openaiCompatibleLLM,
      { model: 'm', baseUrl: fake.baseUrl, headers: { Authorization: `Bearer ${API_KEY}` } },
      'local',
    );
    await viaHeaders.generate(user('b'), { signal: signal() });
    expect(fake.lastRequest!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(fake.lastRequest!.body.messages).toEqual(user('b'));
  });

  it('streams with usage by default, and without stream_options when streamUsage is false', async () => {
    const open = await OpenAIFakeServer.start();
    try {
      const withUsage = await create<LLMDriver>(openaiCompatibleLLM, { model: 'm', baseUrl: open.baseUrl }, 'local');
      const a = await collect(withUsage.stream(user('x y'), { signal: signal() }));
      expect(open.lastRequest!.body.stream_options).toEqual({ include_usage: true });
      expect(a.at(-1)!.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });

      const old = await create<LLMDriver>(openaiCompatibleLLM, { model: 'm', baseUrl: open.baseUrl, streamUsage: false }, 'local');
      const b = await collect(old.stream(user('x y'), { signal: signal() }));
      expect(open.lastRequest!.body).not.toHaveProperty('stream_options');
      expect(open.lastRequest!.body.stream).toBe(true);
      expect(b.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: x y');
    } finally {
      await open.close();
    }
  });
});

describe('error mapping', () => {
  it('401: not retryable, and no key or key fragment anywhere in the error', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: WRONG_KEY, baseUrl: fake.baseUrl });
    const err = await rejection(() => llm.generate(user('hi'), { signal: signal() }));
    // The fake did answer like OpenAI, echoing a masked fragment of the key.
    expect(fake.lastRequest!.headers.authorization).toBe(`Bearer ${WRONG_KEY}`);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ name: 'ProviderError', instance: 'chat', type: 'openai', kind: 'llm', status: 401, retryable: false, code: 'http' });
    expect(err.message).toMatch(/^llm "chat" \(openai\): upstream answered 401 Unauthorized: Incorrect API key provided: \*\*\*/);
    expectNoKey(printable(err), WRONG_KEY);
    expectNoKey(logLines.join('\n'), WRONG_KEY);
  });

  it('redacts the key when an upstream echoes it whole, in the message and the cause', async () => {
    const llm = await create<LLMDriver>(openaiLLM, {
      model: 'gpt-4o-mini',
      apiKey: API_KEY,
      baseUrl: fake.baseUrl,
      headers: { 'X-Proxy-Token': 'proxy-token-abcdef123456' },
    });
    fake.failNext(403, { message: `key ${API_KEY} and token proxy-token-abcdef123456 are not allowed here` });
    const err = await rejection(() => llm.generate(user('hi'), { signal: signal() }));
    expect(err).toMatchObject({ status: 403, retryable: false });
    expect(err.message).toContain('upstream answered 403 Forbidden: key *** and token *** are not allowed here');
    expect(err.cause).toBeInstanceOf(Error);
    expect(String(err.cause.message)).toContain('key *** and token ***');
    expectNoKey(printable(err));
    expect(printable(err)).not.toContain('proxy-token-abcdef123456');
  });

  it('429: retryable, with retryAfterMs from retry-after (seconds)', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.failNext(429, { message: 'Rate limit reached for gpt-4o-mini', type: 'requests', code: 'rate_limit_exceeded' }, { headers: { 'retry-after': '2' } });
    const err = await rejection(() => llm.generate(user('hi'), { signal: signal() }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 429, retryable: true, retryAfterMs: 2000, code: 'http' });
    expect(err.message).toMatch(/^llm "chat" \(openai\): upstream answered 429 Too Many Requests: Rate limit reached for gpt-4o-mini/);
    expect(fake.requests).toHaveLength(1); // the SDK did not retry on its own
  });

  it('prefers retry-after-ms, and reads an HTTP date', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.failNext(429, {}, { headers: { 'retry-after-ms': '150', 'retry-after': '9' } });
    expect(await rejection(() => llm.generate(user('hi'), { signal: signal() }))).toMatchObject({ retryAfterMs: 150 });

    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now)).toBe(30_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });

  it('500, 503, 408, 409 are retryable; 400, 404 are not', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    for (const [status, retryable] of [
      [500, true],
      [503, true],
      [408, true],
      [409, true],
      [400, false],
      [404, false],
    ] as const) {
      fake.failNext(status, { message: `boom ${status}` });
      const err = await rejection(() => llm.generate(user('hi'), { signal: signal() }));
      expect(err).toBeInstanceOf(ProviderError);
      expect({ status: err.status, retryable: err.retryable }).toEqual({ status, retryable });
      expect(err.message).toContain(`boom ${status}`);
    }
  });

  it('honours x-should-retry from the upstream', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.failNext(500, {}, { headers: { 'x-should-retry': 'false' } });
    expect(await rejection(() => llm.generate(user('hi'), { signal: signal() }))).toMatchObject({ status: 500, retryable: false });
  });

  it('a failing stream request is mapped the same way', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.failNext(429, { message: 'slow down' }, { headers: { 'retry-after': '1' } });
    const err = await rejection(() => collect(llm.stream(user('hi'), { signal: signal() })));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 429, retryable: true, retryAfterMs: 1000 });
  });

  it('connection refused: retryable, code connection, names where', async () => {
    const port = await freePort();
    const llm = await create<LLMDriver>(openaiCompatibleLLM, { model: 'm', baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: API_KEY }, 'local');
    const err = await rejection(() => llm.generate(user('hi'), { signal: signal() }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ instance: 'local', type: 'openai-compatible', retryable: true, code: 'connection', status: undefined });
    expect(err.message).toContain(`llm "local" (openai-compatible): cannot reach http://127.0.0.1:${port}/v1`);
    expect(err.message).toContain('ECONNREFUSED');
    expectNoKey(printable(err));
  });

  it('hides credentials written into the baseUrl (were one to get past validation)', async () => {
    const port = await freePort();
    const config = Object.assign(new OpenAICompatibleLLMConfig(), {
      type: 'openai-compatible',
      model: 'm',
      baseUrl: `http://user:pa55word@127.0.0.1:${port}/v1?token=t0ken`,
    });
    const llm = await openaiCompatibleLLM.create(config, { name: 'local', kind: 'llm', type: 'openai-compatible', logger });
    const err = await rejection(() => llm.generate(user('hi'), { signal: signal() }));
    expect(err.message).toContain(`cannot reach http://127.0.0.1:${port}/v1`);
    expect(printable(err)).not.toContain('pa55word');
    expect(printable(err)).not.toContain('t0ken');
  });

  it('malformed JSON body: a bad-response ProviderError', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.enqueue({ kind: 'raw', status: 200, body: '{"id": "chatcmpl-1", "choices": [' });
    const err = await rejection(() => llm.generate(user('hi'), { signal: signal() }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'bad-response', retryable: false });
    expect(err.message).toMatch(/^llm "chat" \(openai\): upstream sent malformed JSON/);
  });

  it('a 200 that is not a chat completion is a bad response', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.enqueue({ kind: 'raw', status: 200, body: '<html>proxy login</html>', contentType: 'text/html' });
    expect(await rejection(() => llm.generate(user('hi'), { signal: signal() }))).toMatchObject({ name: 'ProviderError', code: 'bad-response' });
    fake.enqueue({ kind: 'raw', status: 200, body: '{"object":"something.else"}' });
    expect(await rejection(() => llm.generate(user('hi'), { signal: signal() }))).toMatchObject({ name: 'ProviderError', code: 'bad-response' });
  });

  it('a non-JSON error page keeps its text, cut short', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.enqueue({ kind: 'raw', status: 502, body: `<html>Bad Gateway ${'x'.repeat(5000)}</html>`, contentType: 'text/html' });
    const err = await rejection(() => llm.generate(user('hi'), { signal: signal() }));
    expect(err).toMatchObject({ status: 502, retryable: true });
    expect(err.message).toContain('upstream answered 502 Bad Gateway: <html>Bad Gateway');
    expect(err.message.length).toBeLessThan(700);
  });

  it('malformed JSON inside a stream, and an error event inside a stream', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.enqueue({ kind: 'mutate', sse: (lines) => [lines[0]!, '{"broken', ...lines.slice(1)] });
    const bad = await rejection(() => collect(llm.stream(user('hi'), { signal: signal() })));
    expect(bad).toBeInstanceOf(ProviderError);
    expect(bad).toMatchObject({ code: 'bad-response' });

    fake.enqueue({ kind: 'mutate', sse: (lines) => [lines[0]!, JSON.stringify({ error: { message: 'The server had an error', type: 'server_error' } })] });
    const event = await rejection(() => collect(llm.stream(user('hi'), { signal: signal() })));
    expect(event).toBeInstanceOf(ProviderError);
    expect(event).toMatchObject({ code: 'stream-error', retryable: true });
    expect(event.message).toContain('upstream sent an error in the stream: The server had an error');
  });
});

describe('abort', () => {
  it('generate: rejects at once while the server hangs before answering, and the server sees the client go', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.hangNext();
    const err = await expectQuickAbort((s) => llm.generate(user('hi'), { signal: s }));
    expect(err.message).toBe('llm "chat" (openai): the call was aborted');
    await fake.waitForClientAbort(undefined, 1000);
    expect(fake.lastRequest!.aborted).toBe(true);
  });

  it('generate: rejects at once when the headers came but the body never does', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.hangNext({ afterHeaders: true });
    await expectQuickAbort((s) => llm.generate(user('hi'), { signal: s }));
    await fake.waitForClientAbort(undefined, 1000);
  });

  it('stream: rejects the pending iteration at once mid-stream, and the server sees the client go', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.hangNext({ afterChunks: 3 });
    const received: ChatCompletionChunk[] = [];
    await expectQuickAbort(async (s) => {
      for await (const chunk of llm.stream(user('a b c d'), { signal: s })) received.push(chunk);
    }, 80);
    expect(received).toHaveLength(3);
    await fake.waitForClientAbort(undefined, 1000);
    expect(fake.lastRequest!.aborted).toBe(true);
  });

  it('stream: rejects at once while waiting for the response headers', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    fake.hangNext();
    await expectQuickAbort((s) => collect(llm.stream(user('hi'), { signal: s })));
    await fake.waitForClientAbort(undefined, 1000);
  });

  it('embedBatch: rejects at once while the server hangs', async () => {
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'text-embedding-3-small', apiKey: API_KEY, baseUrl: fake.baseUrl }, 'docs');
    fake.hangNext();
    const err = await expectQuickAbort((s) => embedder.embedBatch(['a'], { signal: s }));
    expect(err.message).toBe('embedding "docs" (openai): the call was aborted');
    await fake.waitForClientAbort(undefined, 1000);
  });

  it('an already aborted signal rejects without a request', async () => {
    const llm = await create<LLMDriver>(openaiLLM, { model: 'gpt-4o-mini', apiKey: API_KEY, baseUrl: fake.baseUrl });
    const err = await rejection(() => llm.generate(user('hi'), { signal: AbortSignal.abort() }));
    expect(err.name).toBe('AbortError');
    const streamErr = await rejection(() => collect(llm.stream(user('hi'), { signal: AbortSignal.abort() })));
    expect(streamErr.name).toBe('AbortError');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('embeddings', () => {
  const texts = ['the first text', 'a second one', 'third', 'and the fourth'];

  it('asks for base64 by default and decodes the vectors, in input order, with usage', async () => {
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'text-embedding-3-small', apiKey: API_KEY, baseUrl: fake.baseUrl }, 'docs');
    expect(embedder.model).toBe('text-embedding-3-small');
    expect(embedder.maxBatchSize).toBe(2048);
    expect(embedder.supportsDimensions).toBe(true);

    const result = await embedder.embedBatch(texts, { signal: signal() });
    const req = fake.lastRequest!;
    expect(req.path).toBe('/v1/embeddings');
    expect(req.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req.body).toEqual({ model: 'text-embedding-3-small', input: texts, encoding_format: 'base64' });
    expect(rows(result)).toEqual(texts.map((t) => fakeEmbedding(t, 8)));
    expect(result.usage).toEqual({ promptTokens: 10, totalTokens: 10 });
  });

  it('sends dimensions only when asked', async () => {
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'text-embedding-3-small', apiKey: API_KEY, baseUrl: fake.baseUrl }, 'docs');
    const result = await embedder.embedBatch(texts, { dimensions: 5, inputType: 'query', signal: signal() });
    expect(fake.lastRequest!.body.dimensions).toBe(5);
    // OpenAI has no input types: nothing about it goes on the wire.
    expect(Object.keys(fake.lastRequest!.body).sort()).toEqual(['dimensions', 'encoding_format', 'input', 'model']);
    expect(rows(result)).toEqual(texts.map((t) => fakeEmbedding(t, 5)));
    expect(rows(result).every((v) => v.length === 5)).toBe(true);
  });

  it('puts vectors back in input order when the server sends them shuffled', async () => {
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'e', apiKey: API_KEY, baseUrl: fake.baseUrl }, 'docs');
    fake.enqueue({ kind: 'mutate', json: (answer) => ({ ...answer, data: [...answer.data].reverse() }) });
    const result = await embedder.embedBatch(texts, { signal: signal() });
    expect(fake.lastRequest!.body.encoding_format).toBe('base64');
    expect(rows(result)).toEqual(texts.map((t) => fakeEmbedding(t, 8)));
  });

  it('reads float arrays from a server that ignores base64', async () => {
    const embedder = await create<EmbedderDriver>(openaiCompatibleEmbedder, { model: 'e', baseUrl: fake.baseUrl, apiKey: API_KEY }, 'local');
    fake.ignoreEncodingFormat = true;
    const result = await embedder.embedBatch(texts, { signal: signal() });
    expect(fake.lastRequest!.body.encoding_format).toBe('base64');
    expect(rows(result)).toEqual(texts.map((t) => fakeEmbedding(t, 8)));
  });

  it('openai-compatible: encodingFormat float, limits from batchSize', async () => {
    const floats = await create<EmbedderDriver>(
      openaiCompatibleEmbedder,
      { model: 'e', baseUrl: fake.baseUrl, apiKey: API_KEY, encodingFormat: 'float', batchSize: 100 },
      'local',
    );
    expect(floats.maxBatchSize).toBe(100);
    const result = await floats.embedBatch(['x', 'y'], { signal: signal() });
    expect(fake.lastRequest!.body.encoding_format).toBe('float');
    expect(rows(result)).toEqual([fakeEmbedding('x', 8), fakeEmbedding('y', 8)]);

    const big = await create<EmbedderDriver>(openaiCompatibleEmbedder, { model: 'e', baseUrl: fake.baseUrl, batchSize: 5000 }, 'local');
    expect(big.maxBatchSize).toBe(2048);
    const plain = await create<EmbedderDriver>(openaiCompatibleEmbedder, { model: 'e', baseUrl: fake.baseUrl }, 'local');
    expect(plain.maxBatchSize).toBe(2048);
    // openai states its own limit, whatever batchSize says (the library applies batchSize).
    const openai = await create<EmbedderDriver>(openaiEmbedder, { model: 'e', apiKey: API_KEY, baseUrl: fake.baseUrl, batchSize: 10 }, 'docs');
    expect(openai.maxBatchSize).toBe(2048);
  });

  it('a vector count mismatch is a bad-response ProviderError, not retryable', async () => {
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'e', apiKey: API_KEY, baseUrl: fake.baseUrl }, 'docs');
    fake.enqueue({ kind: 'mutate', json: (answer) => ({ ...answer, data: answer.data.slice(1) }) });
    const err = await rejection(() => embedder.embedBatch(texts, { signal: signal() }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'bad-response', retryable: false, instance: 'docs', kind: 'embedding' });
    expect(err.message).toBe('embedding "docs" (openai): bad response from upstream: asked for 4 vectors, got 3');
  });

  it('duplicate or out-of-range indices and broken vectors are bad responses', async () => {
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'e', apiKey: API_KEY, baseUrl: fake.baseUrl }, 'docs');
    fake.enqueue({ kind: 'mutate', json: (a) => ({ ...a, data: a.data.map((d: any) => ({ ...d, index: 0 })) }) });
    expect(await rejection(() => embedder.embedBatch(texts, { signal: signal() }))).toMatchObject({ code: 'bad-response' });
    fake.enqueue({ kind: 'mutate', json: (a) => ({ ...a, data: a.data.map((d: any, i: number) => ({ ...d, index: i + 1 })) }) });
    expect(await rejection(() => embedder.embedBatch(texts, { signal: signal() }))).toMatchObject({ code: 'bad-response' });
    fake.enqueue({ kind: 'mutate', json: (a) => ({ ...a, data: a.data.map((d: any) => ({ ...d, embedding: 'AAA' })) }) });
    expect(await rejection(() => embedder.embedBatch(texts, { signal: signal() }))).toMatchObject({ code: 'bad-response' });
    fake.enqueue({ kind: 'mutate', json: () => ({ object: 'list' }) });
    expect(await rejection(() => embedder.embedBatch(texts, { signal: signal() }))).toMatchObject({ code: 'bad-response' });
  });

  it("the service's own limit: more than 2048 inputs is a 400, not retryable", async () => {
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'e', apiKey: API_KEY, baseUrl: fake.baseUrl }, 'docs');
    const err = await rejection(() =>
      embedder.embedBatch(
        Array.from({ length: 2049 }, (_, i) => `t${i}`),
        { signal: signal() },
      ),
    );
    expect(err).toMatchObject({ name: 'ProviderError', status: 400, retryable: false });
    expect(err.message).toContain('maximum is 2048');
    const ok = await embedder.embedBatch(
      Array.from({ length: 2048 }, (_, i) => `t${i}`),
      { signal: signal() },
    );
    expect(rows(ok)).toHaveLength(2048);
    expect(rows(ok)[2047]).toEqual(fakeEmbedding('t2047', 8));
  });

  it('errors name the embedding instance and keep the key out', async () => {
    const embedder = await create<EmbedderDriver>(openaiEmbedder, { model: 'e', apiKey: WRONG_KEY, baseUrl: fake.baseUrl }, 'docs');
    const err = await rejection(() => embedder.embedBatch(['a'], { signal: signal() }));
    expect(err).toMatchObject({ name: 'ProviderError', instance: 'docs', kind: 'embedding', status: 401, retryable: false });
    expect(err.message).toMatch(/^embedding "docs" \(openai\): upstream answered 401 Unauthorized/);
    expectNoKey(printable(err), WRONG_KEY);
  });
});

describe('fake server', () => {
  it('speaks OpenAI for models and unknown routes, and validates like OpenAI', async () => {
    const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
    const models = await fetch(`${fake.baseUrl}/models`, { headers: auth });
    expect(await models.json()).toMatchObject({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }, { id: 'text-embedding-3-small' }] });
    const unknown = await fetch(`${fake.baseUrl}/nope`, { method: 'POST', headers: auth, body: '{}' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { message: 'Invalid URL (POST /v1/nope)', type: 'invalid_request_error', param: null, code: null } });
    const noModel = await fetch(`${fake.baseUrl}/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ messages: user('x') }) });
    expect(noModel.status).toBe(400);
    const floats = await fetch(`${fake.baseUrl}/embeddings`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'e', input: 'x', dimensions: 3 }),
    });
    expect(await floats.json()).toMatchObject({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: fakeEmbedding('x', 3) }], model: 'e' });
    const streamOptionsWithoutStream = await fetch(`${fake.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'm', messages: user('x'), stream_options: { include_usage: true } }),
    });
    expect(streamOptionsWithoutStream.status).toBe(400);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /v1/models',
      'POST /v1/nope',
      'POST /v1/chat/completions',
      'POST /v1/embeddings',
      'POST /v1/chat/completions',
    ]);
  });

  it('closes hanging connections when it stops', async () => {
    const own = await OpenAIFakeServer.start();
    own.hangNext();
    const pending = fetch(`${own.baseUrl}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: user('x') }) }).then(
      () => 'answered',
      () => 'failed',
    );
    await own.waitFor((r) => r.length === 1);
    await own.close();
    expect(await pending).toBe('failed');
  });
});
