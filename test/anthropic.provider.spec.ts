import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, ProvidersConfigError, type ChatCompletionChunk, type ChatCompletionMessageParam, type LLM } from '@hush/providers';
import { anthropicLLM } from '../libs/providers/src/providers/anthropic/anthropic.llm.js';
import { AnthropicFakeServer } from './fakes/anthropic-fake-server.js';
import { boot, bootError, collect, expectNoKey, expectQuickAbort, printable, rejection, type Booted } from './support/provider-kit.js';

const API_KEY = 'sk-ant-api03-SECRETKEY0123456789-abcdXYZ9';
const WRONG_KEY = 'sk-ant-api03-WRONGKEY9876543210-wxyzQRS7';

let fake: AnthropicFakeServer;
let app: Booted | undefined;

beforeAll(async () => {
  fake = await AnthropicFakeServer.start({ apiKey: API_KEY });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Boots one `anthropic` LLM named "claude" (plus any keys given), no retries unless asked. */
async function claude(entry: Record<string, unknown> = {}): Promise<LLM> {
  app = await boot({ llm: { claude: { type: 'anthropic', model: 'claude-sonnet-4-5', apiKey: API_KEY, baseUrl: fake.baseUrl, maxRetries: 0, ...entry } } }, [
    anthropicLLM,
  ]);
  return app.registry.llm('claude');
}

const user = (content: string): ChatCompletionMessageParam[] => [{ role: 'user', content }];
const textOf = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

describe('anthropic config', () => {
  it('requires model and apiKey, refuses unknown keys and bad values, and never shows the key', async () => {
    const err = await bootError(
      {
        llm: {
          a: { type: 'anthropic', apiKey: API_KEY },
          b: { type: 'anthropic', model: 'm' },
          c: { type: 'anthropic', model: 'm', apiKey: API_KEY, baseURL: 'http://x' },
          d: { type: 'anthropic', model: 'm', apiKey: API_KEY, maxTokens: 0, baseUrl: 'api.anthropic.com' },
          e: { type: 'anthropic', model: 'm', apiKey: API_KEY, betas: 'tools-2024' },
        },
      },
      [anthropicLLM],
    );
    expect(err).toBeInstanceOf(ProvidersConfigError);
    const message = String(err.message);
    expect(message).toContain('llm.a.model');
    expect(message).toContain('llm.b.apiKey');
    expect(message).toMatch(/llm\.c\.baseURL[^\n]*Unknown key/);
    expect(message).toContain('llm.d.maxTokens');
    expect(message).toContain('llm.d.baseUrl');
    expect(message).toContain('llm.e.betas');
    expectNoKey(printable(err), API_KEY);
  });

  it('takes maxTokens from an environment variable, and sends betas as anthropic-beta', async () => {
    app = await boot(
      {
        llm: {
          claude: {
            type: 'anthropic',
            model: 'claude-haiku-4-5',
            apiKey: API_KEY,
            baseUrl: fake.baseUrl,
            maxTokens: '${MAX_TOKENS}',
            betas: ['a-2025-01-01', 'b-2025-02-02'],
          },
        },
      },
      [anthropicLLM],
      { MAX_TOKENS: '2048' },
    );
    await app.registry.llm('claude').generate(user('hi'));
    expect(fake.lastRequest!.body.max_tokens).toBe(2048);
    expect(fake.lastRequest!.headers['anthropic-beta']).toBe('a-2025-01-01,b-2025-02-02');
  });
});

describe('anthropic generate', () => {
  it('sends the Messages API request and maps the answer to a ChatCompletion', async () => {
    const llm = await claude({ params: { temperature: 0.3 } });
    expect(llm.model).toBe('claude-sonnet-4-5');
    expect(llm.type).toBe('anthropic');
    const completion = await llm.generate(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        { role: 'user', content: 'one two three' },
      ],
      { top_p: 0.9, stop: 'STOP', seed: 7, frequency_penalty: 0.5, logprobs: true, user: 'user-42' },
    );

    expect(fake.requests).toHaveLength(1);
    const req = fake.lastRequest!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/messages');
    expect(req.headers['x-api-key']).toBe(API_KEY);
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.authorization).toBeUndefined();
    // seed, penalties and logprobs have no Anthropic equivalent: not sent (the fake refuses unknown keys).
    expect(req.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      system: 'Be brief.\n\nAnswer in English.',
      messages: [{ role: 'user', content: 'one two three' }],
      temperature: 0.3,
      top_p: 0.9,
      stop_sequences: ['STOP'],
      metadata: { user_id: 'user-42' },
    });

    expect(completion).toMatchObject({
      id: `msg_fake${req.seq}`,
      object: 'chat.completion',
      model: 'claude-sonnet-4-5',
      choices: [{ index: 0, message: { role: 'assistant', content: 'echo: one two three', refusal: null }, finish_reason: 'stop', logprobs: null }],
      // input: the system prompt's 5 words and the user's 3.
      usage: { prompt_tokens: 8, completion_tokens: 4, total_tokens: 12 },
    });
    expect(completion.choices[0]!.message.tool_calls).toBeUndefined();
    expect(typeof completion.created).toBe('number');
  });

  it('max_completion_tokens over max_tokens over the YAML params over maxTokens; max_tokens stop is "length"', async () => {
    const llm = await claude({ maxTokens: 1000, params: { max_tokens: 50 } });
    await llm.generate(user('a b c'));
    expect(fake.lastRequest!.body.max_tokens).toBe(50);
    await llm.generate(user('a b c'), { max_tokens: 20 });
    expect(fake.lastRequest!.body.max_tokens).toBe(20);
    const cut = await llm.generate(user('a b c'), { max_tokens: 20, max_completion_tokens: 2 });
    expect(fake.lastRequest!.body.max_tokens).toBe(2);
    expect(cut.choices[0]!.message.content).toBe('echo: a');
    expect(cut.choices[0]!.finish_reason).toBe('length');
  });

  it('maps stop sequences, and a stop_sequence stop to "stop"', async () => {
    const llm = await claude();
    const done = await llm.generate(user('alpha END beta'), { stop: ['END', 'FIN'] });
    expect(fake.lastRequest!.body.stop_sequences).toEqual(['END', 'FIN']);
    expect(done.choices[0]!.message.content).toBe('echo: alpha ');
    expect(done.choices[0]!.finish_reason).toBe('stop');
  });

  it('maps a conversation with images, tool calls and tool results into alternating Anthropic turns', async () => {
    const llm = await claude();
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a weather bot.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is the weather here?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/sky.jpg', detail: 'low' } },
        ],
      },
      { role: 'user', content: 'And tomorrow?' },
      {
        role: 'assistant',
        content: 'Let me look.',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo","day":"today"}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo","day":"tomorrow"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'rain' },
      { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: 'sun' }] },
      { role: 'user', content: 'Summarize.' },
      { role: 'assistant', content: '' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Rain today, ' },
          { type: 'text', text: 'sun tomorrow.' },
        ],
      },
      { role: 'user', content: 'Thanks' },
    ];
    const completion = await llm.generate(messages);
    expect(completion.choices[0]!.message.content).toBe('echo: Thanks');
    const body = fake.lastRequest!.body;
    expect(body.system).toBe('You are a weather bot.');
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is the weather here?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/sky.jpg' } },
          { type: 'text', text: 'And tomorrow?' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me look.' },
          { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo', day: 'today' } },
          { type: 'tool_use', id: 'toolu_2', name: 'weather', input: { city: 'Oslo', day: 'tomorrow' } },
        ],
      },
      {
        // Both tool results in one user turn, first, then the user's own text.
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'rain' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'sun' }] },
          { type: 'text', text: 'Summarize.' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Rain today, ' },
          { type: 'text', text: 'sun tomorrow.' },
        ],
      },
      { role: 'user', content: 'Thanks' },
    ]);
  });

  it('puts tool results first in a user turn, even when the user spoke before them', async () => {
    const llm = await claude();
    await llm.generate([
      { role: 'user', content: 'time?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_9', type: 'function', function: { name: 'clock', arguments: '' } }] },
      { role: 'user', content: 'quickly please' },
      { role: 'tool', tool_call_id: 'toolu_9', content: '12:00' },
    ]);
    expect(fake.lastRequest!.body.messages.slice(1)).toEqual([
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_9', name: 'clock', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_9', content: '12:00' },
          { type: 'text', text: 'quickly please' },
        ],
      },
    ]);
  });

  it('maps tools and tool_choice, and a tool_use answer to tool_calls', async () => {
    const llm = await claude();
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'lookup',
          description: 'Looks a word up.',
          parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
        },
      },
      { type: 'function' as const, function: { name: 'now' } },
    ];
    const completion = await llm.generate(user('define zephyr'), {
      tools,
      tool_choice: { type: 'function', function: { name: 'lookup' } },
      parallel_tool_calls: false,
    });
    const body = fake.lastRequest!.body;
    expect(body.tools).toEqual([
      { name: 'lookup', description: 'Looks a word up.', input_schema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'lookup', disable_parallel_tool_use: true });

    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([
      { id: `toolu_fake${fake.lastRequest!.seq}_0`, type: 'function', function: { name: 'lookup', arguments: '{"query":"define zephyr"}' } },
    ]);

    const mapped: Array<[unknown, unknown]> = [
      ['auto', { type: 'auto' }],
      ['required', { type: 'any' }],
      ['none', { type: 'none' }],
    ];
    for (const [openai, anthropic] of mapped) {
      await llm.generate(user('x'), { tools, tool_choice: openai as 'auto' });
      expect(fake.lastRequest!.body.tool_choice).toEqual(anthropic);
    }
    await llm.generate(user('x'), { tools, parallel_tool_calls: false });
    expect(fake.lastRequest!.body.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    await llm.generate(user('x'), { parallel_tool_calls: false });
    expect(fake.lastRequest!.body).not.toHaveProperty('tool_choice');
    expect(fake.lastRequest!.body).not.toHaveProperty('tools');
  });

  it('maps text and tool_use blocks together, and usage with cached tokens', async () => {
    const llm = await claude();
    fake.replyNext({
      content: [
        { type: 'text', text: 'Checking ' },
        { type: 'text', text: 'both.' },
        { type: 'tool_use', id: 'toolu_a', name: 'a', input: {} },
        { type: 'tool_use', id: 'toolu_b', name: 'b', input: { n: 1 } },
      ],
      stopReason: 'tool_use',
      usage: { input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 5, output_tokens: 7 },
    });
    const completion = await llm.generate(user('go'));
    expect(completion.choices[0]!.message).toEqual({
      role: 'assistant',
      content: 'Checking both.',
      refusal: null,
      tool_calls: [
        { id: 'toolu_a', type: 'function', function: { name: 'a', arguments: '{}' } },
        { id: 'toolu_b', type: 'function', function: { name: 'b', arguments: '{"n":1}' } },
      ],
    });
    expect(completion.usage).toEqual({ prompt_tokens: 115, completion_tokens: 7, total_tokens: 122, prompt_tokens_details: { cached_tokens: 100 } });
  });

  it('refuses what Anthropic cannot do before sending anything', async () => {
    const llm = await claude();
    const cases: Array<[ChatCompletionMessageParam[], Record<string, unknown>, RegExp]> = [
      [user('x'), { n: 2 }, /n = 2/],
      [user('x'), { response_format: { type: 'grammar' } }, /response_format "grammar"/],
      [[{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }], {}, /"input_audio" part/],
      [
        [{ role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{not json' } }] }],
        {},
        /arguments is not valid JSON/,
      ],
      [[{ role: 'function', name: 'f', content: 'x' } as ChatCompletionMessageParam], {}, /role "function"/],
    ];
    for (const [messages, options, pattern] of cases) {
      const err = await rejection(() => llm.generate(messages, options));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ code: 'bad-input', retryable: false, instance: 'claude', type: 'anthropic' });
      expect(err.message).toMatch(pattern);
    }
    expect(fake.requests).toHaveLength(0);
  });
});

describe('anthropic stream', () => {
  it('streams text as OpenAI chunks: role first, deltas, finish, then usage with empty choices', async () => {
    const llm = await claude();
    const chunks = await collect(llm.stream(user('one two three'), { temperature: 0 }));
    const body = fake.lastRequest!.body;
    expect(body).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 4096, messages: user('one two three'), temperature: 0, stream: true });
    expect(fake.lastRequest!.headers.accept).toBe('text/event-stream');

    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === `msg_fake${fake.lastRequest!.seq}` && c.model === 'claude-sonnet-4-5')).toBe(
      true,
    );
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.slice(1, -2).map((c) => c.choices[0]!.delta.content)).toEqual(['echo:', ' one', ' two', ' three']);
    expect(textOf(chunks)).toBe('echo: one two three');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.slice(0, -2).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('streams tool_use blocks as tool_calls deltas: id and name, then argument fragments', async () => {
    const llm = await claude();
    fake.replyNext({
      content: [
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_x', name: 'weather', input: { city: 'Paris', unit: 'c' } },
        { type: 'tool_use', id: 'toolu_y', name: 'time', input: {} },
      ],
      stopReason: 'tool_use',
    });
    const chunks = await collect(
      llm.stream(user('weather?'), {
        tools: [
          { type: 'function', function: { name: 'weather' } },
          { type: 'function', function: { name: 'time' } },
        ],
      }),
    );
    expect(textOf(chunks)).toBe('Let me check.');
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'toolu_x', type: 'function', function: { name: 'weather', arguments: '' } });
    const args = (index: number) =>
      calls
        .filter((c) => c.index === index)
        .map((c) => c.function?.arguments ?? '')
        .join('');
    expect(calls.filter((c) => c.index === 0 && !c.id).length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(args(0))).toEqual({ city: 'Paris', unit: 'c' });
    expect(calls.find((c) => c.index === 1 && c.id)).toEqual({ index: 1, id: 'toolu_y', type: 'function', function: { name: 'time', arguments: '' } });
    expect(JSON.parse(args(1))).toEqual({});
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('leaves the usage chunk out when stream_options.include_usage is false, and never sends stream_options', async () => {
    const llm = await claude();
    const chunks = await collect(llm.stream(user('a'), { stream_options: { include_usage: false } }));
    expect(fake.lastRequest!.body).not.toHaveProperty('stream_options');
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('yields chunks as they arrive, not at the end', async () => {
    const llm = await claude();
    fake.hangNext({ afterEvents: 4 });
    const controller = new AbortController();
    const iterator = llm.stream(user('never finished'), { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value.choices[0].delta.role).toBe('assistant');
    expect((await iterator.next()).value.choices[0].delta.content).toBe('echo:');
    controller.abort();
    await expect(iterator.next()).rejects.toMatchObject({ name: 'AbortError' });
    await fake.waitForClientAbort(1000);
  });

  it('an overloaded_error event mid-stream ends the stream with a retryable ProviderError', async () => {
    const llm = await claude();
    fake.streamErrorNext(4);
    const received: ChatCompletionChunk[] = [];
    const err = await rejection(async () => {
      for await (const chunk of llm.stream(user('a b c'))) received.push(chunk);
    });
    expect(textOf(received)).toBe('echo:');
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'stream-error', retryable: true, instance: 'claude', type: 'anthropic' });
    expect(err.message).toContain('upstream sent an error in the stream: overloaded_error: Overloaded');
  });

  it('an invalid_request_error event is not retryable', async () => {
    const llm = await claude();
    fake.streamErrorNext(1, { type: 'invalid_request_error', message: 'bad thing' });
    const err = await rejection(() => collect(llm.stream(user('a'))));
    expect(err).toMatchObject({ name: 'ProviderError', code: 'stream-error', retryable: false });
  });

  it('a stream cut before message_stop, or with a malformed event, is an error', async () => {
    const llm = await claude();
    fake.enqueue({ kind: 'mutate', events: (frames) => frames.slice(0, -2) });
    const cut = await rejection(() => collect(llm.stream(user('a b'))));
    expect(cut).toMatchObject({ name: 'ProviderError', retryable: true, code: 'connection' });
    expect(cut.message).toContain('the stream ended before message_stop');

    fake.enqueue({ kind: 'mutate', events: (frames) => [frames[0]!, { event: 'content_block_delta', data: '{"type":"content_bl' }, ...frames.slice(1)] });
    const bad = await rejection(() => collect(llm.stream(user('a b'))));
    expect(bad).toMatchObject({ name: 'ProviderError', code: 'bad-response', retryable: false });
  });

  it('an error before the first chunk is retried; here the second attempt streams fine', async () => {
    const llm = await claude({ maxRetries: 1 });
    fake.failNext(529, {}, { headers: { 'retry-after': '0' } });
    const chunks = await collect(llm.stream(user('again')));
    expect(textOf(chunks)).toBe('echo: again');
    expect(fake.requests).toHaveLength(2);
  });
});

describe('anthropic errors', () => {
  it("401: not retryable, Anthropic's message, and no key anywhere", async () => {
    const llm = await claude({ apiKey: WRONG_KEY });
    const err = await rejection(() => llm.generate(user('hi')));
    expect(fake.lastRequest!.headers['x-api-key']).toBe(WRONG_KEY);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ instance: 'claude', type: 'anthropic', kind: 'llm', status: 401, retryable: false, code: 'http' });
    expect(err.message).toBe('llm "claude" (anthropic): upstream answered 401 Unauthorized: invalid x-api-key');
    expectNoKey(printable(err), WRONG_KEY);
  });

  it('redacts the key when the upstream echoes it', async () => {
    const llm = await claude();
    fake.failNext(403, { message: `key ${API_KEY} may not use this model` });
    const err = await rejection(() => llm.generate(user('hi')));
    expect(err).toMatchObject({ status: 403, retryable: false });
    expect(err.message).toContain('key *** may not use this model');
    expectNoKey(printable(err), API_KEY);
  });

  it('404, 429 (retry-after), 500 and 529 map to their status and retryability', async () => {
    const llm = await claude();
    fake.failNext(404, { message: 'model: claude-nope' });
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ status: 404, retryable: false });
    fake.failNext(429, { message: 'Number of request tokens has exceeded your per-minute rate limit' }, { headers: { 'retry-after': '3' } });
    const limited = await rejection(() => llm.generate(user('x')));
    expect(limited).toMatchObject({ status: 429, retryable: true, retryAfterMs: 3000 });
    expect(limited.message).toContain('per-minute rate limit');
    fake.failNext(500, { message: 'Internal server error' });
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ status: 500, retryable: true });
    fake.failNext(529, { message: 'Overloaded' });
    const overloaded = await rejection(() => llm.generate(user('x')));
    expect(overloaded).toMatchObject({ status: 529, retryable: true, code: 'http' });
    expect(overloaded.message).toMatch(/upstream answered 529: Overloaded$/);
    // x-should-retry, which Anthropic sends, wins over the status.
    fake.failNext(500, {}, { headers: { 'x-should-retry': 'false' } });
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ status: 500, retryable: false });
    expect(fake.requests).toHaveLength(5);
  });

  it("a 400 from the API (here: a temperature out of Anthropic's range) is not retried", async () => {
    const llm = await claude({ maxRetries: 2 });
    const err = await rejection(() => llm.generate(user('x'), { temperature: 1.5 }));
    expect(err).toMatchObject({ status: 400, retryable: false });
    expect(err.message).toContain('temperature: Input should be less than or equal to 1');
    expect(fake.requests).toHaveLength(1);
  });

  it('malformed JSON, or JSON that is not a message, is a bad response', async () => {
    const llm = await claude();
    fake.enqueue({ kind: 'raw', status: 200, body: '{"id":"msg_1","content":[' });
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ name: 'ProviderError', code: 'bad-response', retryable: false });
    fake.enqueue({ kind: 'mutate', json: () => ({ type: 'message', id: 'msg_1' }) });
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ name: 'ProviderError', code: 'bad-response' });
    fake.enqueue({ kind: 'raw', status: 200, body: '<html>login</html>', contentType: 'text/html' });
    expect(await rejection(() => llm.generate(user('x')))).toMatchObject({ name: 'ProviderError', code: 'bad-response' });
  });
});

describe('anthropic abort', () => {
  it('generate: rejects at once while the server hangs, and the server sees the client go', async () => {
    const llm = await claude();
    fake.hangNext();
    await expectQuickAbort((signal) => llm.generate(user('hi'), { signal }));
    await fake.waitForClientAbort(1000);
  });

  it('stream: rejects the pending iteration at once mid-stream', async () => {
    const llm = await claude();
    fake.hangNext({ afterEvents: 5 });
    const received: ChatCompletionChunk[] = [];
    await expectQuickAbort(async (signal) => {
      for await (const chunk of llm.stream(user('a b c d'), { signal })) received.push(chunk);
    }, 80);
    expect(textOf(received)).toBe('echo: a');
    await fake.waitForClientAbort(1000);
  });
});

describe('anthropic fake server', () => {
  it('answers like the API without the version header or with an unknown body key, and closes hanging connections on close()', async () => {
    const own = await AnthropicFakeServer.start({ apiKey: API_KEY });
    const send = (headers: Record<string, string>, body: unknown) =>
      fetch(`${own.baseUrl}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, ...headers },
        body: JSON.stringify(body),
      });
    const noVersion = await send({}, { model: 'm', max_tokens: 5, messages: user('x') });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });
    const extra = await send({ 'anthropic-version': '2023-06-01' }, { model: 'm', max_tokens: 5, messages: user('x'), seed: 1 });
    expect(await extra.json()).toMatchObject({ error: { message: 'seed: Extra inputs are not permitted' } });

    own.hangNext();
    const pending = send({ 'anthropic-version': '2023-06-01' }, { model: 'm', max_tokens: 5, messages: user('x') }).then(
      () => 'answered',
      () => 'failed',
    );
    await own.waitFor((r) => r.length === 3);
    await own.close();
    expect(await pending).toBe('failed');
  });
});

describe('anthropic ping', () => {
  it('checks for free with GET /v1/models, with the key and the API version', async () => {
    const llm = await claude();
    await expect(llm.ping!()).resolves.toEqual({ deployments: 1, reachable: 1 });
    expect(fake.lastRequest).toMatchObject({ method: 'GET', pathname: '/v1/models' });
    expect(fake.lastRequest!.headers).toMatchObject({ 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' });
    await app!.close();
    const wrong = await claude({ apiKey: WRONG_KEY });
    await expect(wrong.ping!()).rejects.toMatchObject({ status: 401, retryable: false });
  });
});
