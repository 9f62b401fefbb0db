import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, type ChatCompletionChunk, type ChatCompletionMessageParam, type GenerateOptions, type LLM } from '@hush/providers';
import { anthropicLLM } from '../libs/providers/src/providers/anthropic/anthropic.llm.js';
import { geminiLLM } from '../libs/providers/src/providers/gemini/gemini.llm.js';
import { openaiCompatibleLLM } from '../libs/providers/src/providers/openai/openai-compatible.llm.js';
import { AnthropicFakeServer } from './fakes/anthropic-fake-server.js';
import { GeminiFakeServer } from './fakes/gemini-fake-server.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { boot, collect, rejection, type Booted } from './support/provider-kit.js';

const API_KEY = 'sk-reasoning-test-key-0123456789';

let anthropic: AnthropicFakeServer;
let compatible: OpenAIFakeServer;
let gemini: GeminiFakeServer;
let app: Booted | undefined;

beforeAll(async () => {
  [anthropic, compatible, gemini] = await Promise.all([
    AnthropicFakeServer.start({ apiKey: API_KEY }),
    OpenAIFakeServer.start({ apiKey: API_KEY }),
    GeminiFakeServer.start({ apiKey: API_KEY }),
  ]);
});
afterAll(async () => {
  await Promise.all([anthropic.close(), compatible.close(), gemini.close()]);
});
beforeEach(() => {
  anthropic.reset();
  compatible.reset();
  gemini.reset();
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function claude(entry: Record<string, unknown> = {}): Promise<LLM> {
  app = await boot(
    { llm: { claude: { type: 'anthropic', model: 'claude-sonnet-4-5', apiKey: API_KEY, baseUrl: anthropic.baseUrl, maxRetries: 0, ...entry } } },
    [anthropicLLM],
  );
  return app.registry.llm('claude');
}

async function local(): Promise<LLM> {
  app = await boot({ llm: { local: { type: 'openai-compatible', model: 'qwen3', apiKey: API_KEY, baseUrl: compatible.baseUrl, maxRetries: 0 } } }, [
    openaiCompatibleLLM,
  ]);
  return app.registry.llm('local');
}

async function flash(): Promise<LLM> {
  app = await boot({ llm: { flash: { type: 'gemini', model: 'gemini-2.5-flash', apiKey: API_KEY, baseUrl: gemini.baseUrl, maxRetries: 0 } } }, [geminiLLM]);
  return app.registry.llm('flash');
}

const user = (content: string): ChatCompletionMessageParam[] => [{ role: 'user', content }];
const loose = (options: Record<string, unknown>) => options as GenerateOptions;
const field = (value: unknown, name: string): unknown => (value as Record<string, unknown> | undefined)?.[name];
const reasoningOf = (chunks: ChatCompletionChunk[]) =>
  chunks.map((c) => (field(c.choices[0]?.delta, 'reasoning_content') as string | undefined) ?? '').join('');
const contentOf = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

const THOUGHT = 'The user greets me. A short greeting back fits.';
const SIGNATURE = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds';

describe('anthropic: reasoning_effort and thinking', () => {
  it.each([
    ['low', { type: 'enabled', budget_tokens: 1024 }, 4096],
    ['medium', { type: 'enabled', budget_tokens: 4096 }, 8192],
    ['high', { type: 'enabled', budget_tokens: 16384 }, 20480],
    ['xhigh', { type: 'enabled', budget_tokens: 32768 }, 36864],
    ['max', { type: 'enabled', budget_tokens: 65536 }, 69632],
  ])('reasoning_effort %s sends thinking %j, with max_tokens %i', async (effort, thinking, maxTokens) => {
    const llm = await claude();
    await llm.generate(user('hi'), loose({ reasoning_effort: effort }));
    const body = anthropic.lastRequest!.body;
    expect(body.thinking).toEqual(thinking);
    expect(body.max_tokens).toBe(maxTokens);
    expect(body).not.toHaveProperty('reasoning_effort');
  });

  it.each(['none', 'minimal'])('reasoning_effort %s sends no thinking', async (effort) => {
    const llm = await claude();
    await llm.generate(user('hi'), loose({ reasoning_effort: effort }));
    expect(anthropic.lastRequest!.body).not.toHaveProperty('thinking');
    expect(anthropic.lastRequest!.body.max_tokens).toBe(4096);
  });

  it('keeps a max_tokens above the budget, and raises one at or below it by the instance maxTokens', async () => {
    const llm = await claude({ maxTokens: 1000 });
    await llm.generate(user('hi'), { reasoning_effort: 'medium', max_tokens: 6000 });
    expect(anthropic.lastRequest!.body).toMatchObject({ max_tokens: 6000, thinking: { type: 'enabled', budget_tokens: 4096 } });
    await llm.generate(user('hi'), { reasoning_effort: 'medium', max_completion_tokens: 4096 });
    expect(anthropic.lastRequest!.body.max_tokens).toBe(5096);
    await llm.generate(user('hi'), { reasoning_effort: 'low' });
    expect(anthropic.lastRequest!.body.max_tokens).toBe(2024);
  });

  it('sends an explicit thinking as given, over reasoning_effort, from the call or the YAML params', async () => {
    let llm = await claude();
    await llm.generate(user('hi'), loose({ reasoning_effort: 'high', thinking: { type: 'enabled', budget_tokens: 2000 } }));
    expect(anthropic.lastRequest!.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 2000 }, max_tokens: 4096 });
    await llm.generate(user('hi'), loose({ thinking: { type: 'disabled' } }));
    expect(anthropic.lastRequest!.body.thinking).toEqual({ type: 'disabled' });
    await app!.close();

    llm = await claude({ params: { thinking: { type: 'enabled', budget_tokens: 8000 } } });
    await llm.generate(user('hi'));
    expect(anthropic.lastRequest!.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 8000 }, max_tokens: 12096 });
  });

  it('refuses an unknown reasoning_effort or a malformed thinking before calling Anthropic', async () => {
    const llm = await claude();
    const err = await rejection(() => llm.generate(user('hi'), loose({ reasoning_effort: 'extreme' })));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('bad-input');
    expect(err.message).toContain('cannot send this call to Anthropic: reasoning_effort "extreme" is not one of none, minimal, low, medium, high, xhigh, max');
    const bad = await rejection(() => llm.generate(user('hi'), loose({ thinking: 'on' })));
    expect(bad.message).toContain('thinking must be an object with a type');
    expect(anthropic.requests).toHaveLength(0);
  });

  it('returns thinking as reasoning_content and the signed blocks as thinking_blocks', async () => {
    const llm = await claude();
    anthropic.replyNext({
      content: [
        { type: 'thinking', thinking: THOUGHT, signature: SIGNATURE },
        { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
        { type: 'text', text: 'Hello!' },
      ],
    });
    const completion = await llm.generate(user('hi'), { reasoning_effort: 'low' });
    const message = completion.choices[0]!.message;
    expect(message.content).toBe('Hello!');
    expect(field(message, 'reasoning_content')).toBe(THOUGHT);
    expect(field(message, 'thinking_blocks')).toEqual([
      { type: 'thinking', thinking: THOUGHT, signature: SIGNATURE },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
    ]);
  });

  it('leaves reasoning_content out of an answer without thinking', async () => {
    const llm = await claude();
    const message = (await llm.generate(user('hi'))).choices[0]!.message;
    expect(message).not.toHaveProperty('reasoning_content');
    expect(message).not.toHaveProperty('thinking_blocks');
  });

  it('streams thinking deltas as reasoning_content, then the signed block when it stops', async () => {
    const llm = await claude();
    anthropic.replyNext({
      content: [
        { type: 'thinking', thinking: THOUGHT, signature: SIGNATURE },
        { type: 'text', text: 'Hello there!' },
      ],
    });
    const chunks = await collect(llm.stream(user('hi'), { reasoning_effort: 'low' }));
    expect(anthropic.lastRequest!.body).toMatchObject({ stream: true, thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(reasoningOf(chunks)).toBe(THOUGHT);
    expect(chunks.filter((c) => field(c.choices[0]?.delta, 'reasoning_content') !== undefined).length).toBeGreaterThan(1);
    expect(contentOf(chunks)).toBe('Hello there!');
    const blocks = chunks.flatMap((c) => (field(c.choices[0]?.delta, 'thinking_blocks') as unknown[] | undefined) ?? []);
    expect(blocks).toEqual([{ type: 'thinking', thinking: THOUGHT, signature: SIGNATURE }]);
    // The reasoning comes before the answer's text.
    const firstText = chunks.findIndex((c) => c.choices[0]?.delta.content);
    const lastReasoning = chunks.findLastIndex((c) => field(c.choices[0]?.delta, 'reasoning_content') !== undefined);
    expect(lastReasoning).toBeLessThan(firstText);
  });

  it('sends thinking_blocks back first in the assistant turn of a tool loop, and drops a bare reasoning_content', async () => {
    const llm = await claude();
    const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    anthropic.replyNext({
      content: [
        { type: 'thinking', thinking: 'I need the weather.', signature: SIGNATURE },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } },
      ],
      stopReason: 'tool_use',
    });
    const first = await llm.generate(user('Weather in Oslo?'), { reasoning_effort: 'low', tools });
    const assistant = first.choices[0]!.message;
    expect(assistant.tool_calls).toHaveLength(1);

    await llm.generate([...user('Weather in Oslo?'), assistant as ChatCompletionMessageParam, { role: 'tool', tool_call_id: 'toolu_1', content: '12 C' }], {
      reasoning_effort: 'low',
      tools,
    });
    expect(anthropic.lastRequest!.body.messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'I need the weather.', signature: SIGNATURE },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } },
      ],
    });

    await llm.generate([...user('a'), { role: 'assistant', content: 'b', reasoning_content: 'unsigned' } as ChatCompletionMessageParam, ...user('c')]);
    expect(anthropic.lastRequest!.body.messages[1]).toEqual({ role: 'assistant', content: 'b' });

    const err = await rejection(() =>
      llm.generate([
        ...user('a'),
        { role: 'assistant', content: 'b', thinking_blocks: [{ type: 'thinking', thinking: 'x' }] } as ChatCompletionMessageParam,
        ...user('c'),
      ]),
    );
    expect(err.message).toContain('messages[1].thinking_blocks[0] is neither a signed thinking block');
  });

  it('reports no reasoning_tokens (Anthropic counts thinking inside output_tokens)', async () => {
    const llm = await claude();
    anthropic.replyNext({
      content: [
        { type: 'thinking', thinking: 'one two three', signature: SIGNATURE },
        { type: 'text', text: 'four' },
      ],
    });
    const { usage } = await llm.generate(user('hi'), { reasoning_effort: 'low' });
    expect(usage).toEqual({ prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 });
  });
});

describe('anthropic: prompt caching', () => {
  it('sends cache_control on content parts, on the system message and on tools exactly', async () => {
    const llm = await claude();
    const ephemeral = { type: 'ephemeral' };
    const messages = [
      {
        role: 'system',
        content: [
          { type: 'text', text: 'A long manual.', cache_control: { type: 'ephemeral', ttl: '1h' } },
          { type: 'text', text: 'Be brief.' },
        ],
      },
      { role: 'developer', content: 'Answer in English.', cache_control: ephemeral },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'The document:', cache_control: ephemeral },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png' }, cache_control: ephemeral },
          { type: 'text', text: 'What is it?' },
        ],
      },
      { role: 'assistant', content: 'A diagram.' },
      { role: 'user', content: 'Thanks.', cache_control: ephemeral },
    ] as unknown as ChatCompletionMessageParam[];
    const tools = [{ type: 'function', function: { name: 'lookup' }, cache_control: ephemeral }] as unknown as GenerateOptions['tools'];
    await llm.generate(messages, { tools });
    const body = anthropic.lastRequest!.body;
    expect(body.system).toEqual([
      { type: 'text', text: 'A long manual.', cache_control: { type: 'ephemeral', ttl: '1h' } },
      { type: 'text', text: 'Be brief.' },
      { type: 'text', text: 'Answer in English.', cache_control: ephemeral },
    ]);
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'The document:', cache_control: ephemeral },
          { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' }, cache_control: ephemeral },
          { type: 'text', text: 'What is it?' },
        ],
      },
      { role: 'assistant', content: 'A diagram.' },
      { role: 'user', content: [{ type: 'text', text: 'Thanks.', cache_control: ephemeral }] },
    ]);
    expect(body.tools).toEqual([{ name: 'lookup', input_schema: { type: 'object', properties: {} }, cache_control: ephemeral }]);
  });

  it('keeps the system prompt a plain string when nothing asks for caching', async () => {
    const llm = await claude();
    await llm.generate([
      {
        role: 'system',
        content: [
          { type: 'text', text: 'One.' },
          { type: 'text', text: 'Two.' },
        ],
      },
      { role: 'system', content: 'Three.' },
      ...user('hi'),
    ]);
    expect(anthropic.lastRequest!.body.system).toBe('One.\nTwo.\n\nThree.');
  });

  it('reports cache reads and writes in usage, plain and streamed', async () => {
    const llm = await claude();
    const usage = { input_tokens: 5, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, output_tokens: 2 };
    anthropic.replyNext({ content: [{ type: 'text', text: 'ok then' }], usage });
    expect((await llm.generate(user('hi'))).usage).toEqual({
      prompt_tokens: 2105,
      completion_tokens: 2,
      total_tokens: 2107,
      prompt_tokens_details: { cached_tokens: 2000 },
    });
    anthropic.replyNext({ content: [{ type: 'text', text: 'ok then' }], usage });
    const chunks = await collect(llm.stream(user('hi'), { stream_options: { include_usage: true } }));
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 2105, completion_tokens: 2, total_tokens: 2107, prompt_tokens_details: { cached_tokens: 2000 } });
  });
});

describe('openai-compatible: reasoning_content', () => {
  const withReasoning = (name: 'reasoning_content' | 'reasoning') => ({
    kind: 'mutate' as const,
    json: (answer: any) => {
      answer.choices[0].message[name] = 'Let me think.';
      answer.usage.completion_tokens_details = { reasoning_tokens: 3 };
      return answer;
    },
  });

  it.each(['reasoning_content', 'reasoning'] as const)('a message with %s comes out with reasoning_content, reasoning_tokens kept', async (name) => {
    const llm = await local();
    compatible.enqueue(withReasoning(name));
    const completion = await llm.generate(user('hi'), { reasoning_effort: 'high' });
    expect(compatible.lastRequest!.body.reasoning_effort).toBe('high');
    const message = completion.choices[0]!.message;
    expect(field(message, 'reasoning_content')).toBe('Let me think.');
    expect(message).not.toHaveProperty('reasoning');
    expect(message.content).toBe('echo: hi');
    expect(completion.usage!.completion_tokens_details).toEqual({ reasoning_tokens: 3 });
  });

  it.each(['reasoning_content', 'reasoning'] as const)('stream deltas with %s come out with reasoning_content', async (name) => {
    const llm = await local();
    compatible.enqueue({
      kind: 'mutate',
      sse: (lines: string[]) => {
        const thinking = ['Let', ' me think.'].map((piece) => {
          const chunk = JSON.parse(lines[0]!);
          chunk.choices[0].delta = { role: 'assistant', content: null, [name]: piece };
          return JSON.stringify(chunk);
        });
        return [
          ...thinking,
          ...lines.map((line) => line.replace('"completion_tokens":2', '"completion_tokens":2,"completion_tokens_details":{"reasoning_tokens":3}')),
        ];
      },
    });
    const chunks = await collect(llm.stream(user('hi')));
    expect(reasoningOf(chunks)).toBe('Let me think.');
    expect(chunks.some((c) => c.choices[0] && 'reasoning' in c.choices[0].delta)).toBe(false);
    expect(contentOf(chunks)).toBe('echo: hi');
    expect(chunks.at(-1)!.usage!.completion_tokens_details).toEqual({ reasoning_tokens: 3 });
  });
});

describe('gemini: thought summaries', () => {
  const THOUGHT_TEXT = '**Planning** I will echo.';

  it('moves a leading <thought> of the content to reasoning_content', async () => {
    const llm = await flash();
    gemini.enqueue({
      kind: 'mutate',
      json: (answer) => {
        answer.choices[0].message.content = `<thought>${THOUGHT_TEXT}</thought>${answer.choices[0].message.content}`;
        return answer;
      },
    });
    const options = loose({ reasoning_effort: 'low', extra_body: { google: { thinking_config: { include_thoughts: true } } } });
    const message = (await llm.generate(user('hi'), options)).choices[0]!.message;
    expect(gemini.lastRequest!.body).toMatchObject({ reasoning_effort: 'low', extra_body: { google: { thinking_config: { include_thoughts: true } } } });
    expect(field(message, 'reasoning_content')).toBe(THOUGHT_TEXT);
    expect(message.content).toBe('echo: hi');
  });

  it('leaves content that does not start with a thought alone', async () => {
    const llm = await flash();
    gemini.enqueue({
      kind: 'mutate',
      json: (answer) => ({ ...answer, choices: [{ ...answer.choices[0], message: { role: 'assistant', content: 'I like <thought> tags' } }] }),
    });
    const message = (await llm.generate(user('hi'))).choices[0]!.message;
    expect(message.content).toBe('I like <thought> tags');
    expect(message).not.toHaveProperty('reasoning_content');
  });

  it('splits a streamed thought, its tags cut across chunks, from the answer', async () => {
    const llm = await flash();
    const pieces = ['<tho', 'ught>**Plan', 'ning** I will', ' echo.</th', 'ought>', 'echo:', ' hi'];
    gemini.enqueue({
      kind: 'mutate',
      events: (frames) => {
        const template = JSON.parse(frames[0]!.data);
        const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
          data: JSON.stringify({ ...template, choices: [{ index: 0, delta, ...(finish ? { finish_reason: finish } : {}) }] }),
        });
        return [...pieces.map((content) => chunk({ role: 'assistant', content })), chunk({}, 'stop'), { data: '[DONE]' }];
      },
    });
    const chunks = await collect(llm.stream(user('hi')));
    expect(reasoningOf(chunks)).toBe(THOUGHT_TEXT);
    expect(contentOf(chunks)).toBe('echo: hi');
  });

  it('gives back a cut opening that never became a tag as text at the end', async () => {
    const llm = await flash();
    gemini.enqueue({
      kind: 'mutate',
      events: (frames) => {
        const template = JSON.parse(frames[0]!.data);
        const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
          data: JSON.stringify({ ...template, choices: [{ index: 0, delta, ...(finish ? { finish_reason: finish } : {}) }] }),
        });
        return [chunk({ role: 'assistant', content: '<th' }), chunk({}, 'stop'), { data: '[DONE]' }];
      },
    });
    const chunks = await collect(llm.stream(user('hi')));
    expect(contentOf(chunks)).toBe('<th');
    expect(reasoningOf(chunks)).toBe('');
  });
});
