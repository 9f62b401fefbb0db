import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { ProviderError, ProvidersModule, ProvidersRegistry, type LLM } from '@hush/providers';
import { llamaCppLLM } from '../libs/providers/src/providers/llama-cpp/llama-cpp.llm.js';
import { ensureTinyModels } from './support/llama-models.js';

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Oslo', 'Paris'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
      required: ['city', 'days'],
      additionalProperties: false,
    },
  },
};
const clock: ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', enum: ['UTC', 'CET'] } }, required: ['zone'] } },
};
const ask: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Oslo for three days?' }];

function expectWeatherArguments(args: string): void {
  const parsed = JSON.parse(args) as { city: unknown; days: unknown };
  expect(Object.keys(parsed).sort()).toEqual(['city', 'days']);
  expect(['Oslo', 'Paris']).toContain(parsed.city);
  // node-llama-cpp's grammar has no minimum/maximum and lets an integer take an exponent: a random
  // model may write one too large for a double.
  expect(typeof parsed.days).toBe('number');
  expect(args).toMatch(/"days"\s*:\s*-?\d+([eE][+-]?\d+)?\s*[,}]/);
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('llama-cpp: tools, on the tiny random chat model', () => {
  let module: TestingModule;
  let llm: LLM;

  beforeAll(async () => {
    const tiny = ensureTinyModels();
    module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          env: {},
          configPath: [],
          config: { llm: { chat: { type: 'llama-cpp', model: tiny.chat, contextSize: 2048 } } },
          providers: [llamaCppLLM],
        }),
      ],
    })
      .setLogger({ log() {}, error() {}, warn() {}, debug() {}, verbose() {} })
      .compile();
    await module.init();
    llm = module.get(ProvidersRegistry).llm('chat');
  }, 60_000);

  afterAll(async () => {
    await module?.close();
  });

  it("tool_choice 'required' with one tool: a call to it, arguments valid for its schema", async () => {
    const answer = await llm.generate(ask, { tools: [weather], tool_choice: 'required', max_tokens: 120, seed: 3 });
    const choice = answer.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]!;
    expect(call.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expectWeatherArguments(call.function.arguments);
  });

  it("tool_choice 'required' with two tools: one of them, arguments valid for that one's schema", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const answer = await llm.generate(ask, { tools: [weather, clock], tool_choice: 'required', max_tokens: 120, seed });
      const call = answer.choices[0]!.message.tool_calls![0]!;
      expect(answer.choices[0]!.finish_reason).toBe('tool_calls');
      if (call.type !== 'function') throw new Error('not a function call');
      if (call.function.name === 'get_weather') expectWeatherArguments(call.function.arguments);
      else {
        expect(call.function.name).toBe('get_time');
        expect(['UTC', 'CET']).toContain((JSON.parse(call.function.arguments) as { zone: string }).zone);
      }
    }
  });

  it('a named function is the one called', async () => {
    const answer = await llm.generate(ask, {
      tools: [clock, weather],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 120,
      seed: 9,
    });
    const call = answer.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expectWeatherArguments(call.function.arguments);
  });

  it('runs the loop: user → tool call → the tool message with the result → a text answer', async () => {
    const first = await llm.generate(ask, { tools: [weather], tool_choice: 'required', max_tokens: 120, seed: 3 });
    const assistant = first.choices[0]!.message;
    const call = assistant.tool_calls![0]!;
    const result = { role: 'tool' as const, tool_call_id: call.id, content: JSON.stringify({ celsius: -3, sky: 'snow' }) };
    const messages: ChatCompletionMessageParam[] = [...ask, assistant, result];

    const final = await llm.generate(messages, { tools: [weather], tool_choice: 'none', max_tokens: 8, seed: 3 });
    const choice = final.choices[0]!;
    expect(choice.message.tool_calls).toBeUndefined();
    expect(typeof choice.message.content).toBe('string');
    expect(choice.message.content!.length).toBeGreaterThan(0);
    expect(choice.finish_reason).toBe('length');
    // The call and its result are in the prompt.
    const withoutResult = await llm.generate(ask, { max_tokens: 1, seed: 3 });
    expect(final.usage!.prompt_tokens).toBeGreaterThan(withoutResult.usage!.prompt_tokens + 10);

    // Offered again with tool_choice auto, the tools reach the model through the chat wrapper's function calling.
    const auto = await llm.generate(messages, { tools: [weather], max_tokens: 8, seed: 3 });
    expect(auto.usage!.prompt_tokens).toBeGreaterThan(final.usage!.prompt_tokens);
    expect(['length', 'stop', 'tool_calls']).toContain(auto.choices[0]!.finish_reason);
  });

  it("tool_choice 'none' answers text", async () => {
    const answer = await llm.generate(ask, { tools: [weather], tool_choice: 'none', max_tokens: 6, seed: 1 });
    expect(answer.choices[0]!.message.tool_calls).toBeUndefined();
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(answer.choices[0]!.finish_reason).toBe('length');
  });

  it('streams a forced call: id and name first, then the arguments as they are generated, the same as generate()', async () => {
    const options = { tools: [weather], tool_choice: 'required' as const, max_tokens: 120, seed: 3 };
    const whole = await llm.generate(ask, options);
    const chunks = await collect(llm.stream(ask, options));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(deltas.length).toBeGreaterThan(2);
    for (const d of deltas.slice(1)) expect(Object.keys(d).sort()).toEqual(['function', 'index']);
    const args = deltas.map((d) => d.function?.arguments ?? '').join('');
    const call = whole.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('not a function call');
    expect(args).toBe(call.function.arguments);
    expectWeatherArguments(args);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('');
    expect(chunks.find((c) => c.choices[0]?.finish_reason)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('streams a call among several tools as one header chunk and one arguments chunk', async () => {
    const chunks = await collect(llm.stream(ask, { tools: [weather, clock], tool_choice: 'required', max_tokens: 120, seed: 2 }));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas).toHaveLength(2);
    expect(deltas[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { arguments: '' } });
    expect(['get_weather', 'get_time']).toContain(deltas[0]!.function!.name);
    expect(() => JSON.parse(deltas[1]!.function!.arguments!) as unknown).not.toThrow();
    expect(chunks.find((c) => c.choices[0]?.finish_reason)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('refuses malformed tools and tool messages with exact, non-retryable errors', async () => {
    const refused = async (messages: ChatCompletionMessageParam[], options: Record<string, unknown>) => {
      const err = await llm.generate(messages, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).retryable).toBe(false);
      expect((err as ProviderError).status).toBe(400);
      return (err as ProviderError).message;
    };
    const prefix = 'llm "chat" (llama-cpp): ';
    expect(await refused(ask, { tools: [{ type: 'function', function: { parameters: {} } }] })).toBe(
      `${prefix}tools[0] is not a function tool ({ type: "function", function: { name, description?, parameters? } }).`,
    );
    expect(await refused(ask, { tools: [weather, weather] })).toBe(`${prefix}tools[1] repeats the function name "get_weather".`);
    expect(await refused(ask, { tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } })).toBe(
      `${prefix}tool_choice names the function "nope", which is not in tools.`,
    );
    expect(await refused(ask, { tool_choice: 'required' })).toBe(`${prefix}tool_choice "required" needs tools.`);
    expect(await refused(ask, { tools: [weather], tool_choice: 'always' })).toBe(
      `${prefix}tool_choice must be "none", "auto", "required" or { type: "function", function: { name } }; got "always".`,
    );
    expect(await refused(ask, { tools: [weather], response_format: { type: 'json_object' } })).toBe(
      `${prefix}response_format cannot be combined with tools on the llama-cpp type (unless tool_choice is "none").`,
    );
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Oslo","days":1}' } };
    expect(await refused([...ask, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', content: 'x' } as never], {})).toBe(
      `${prefix}messages[2] (tool) has no tool_call_id.`,
    );
    expect(await refused([...ask, { role: 'tool', content: 'x', tool_call_id: 'call_1' }], {})).toBe(
      `${prefix}messages[1] (tool) answers tool_call_id "call_1", which no tool call of the assistant message before it has.`,
    );
    expect(await refused([...ask, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'user', content: 'and?' }], {})).toBe(
      `${prefix}an assistant message with tool_calls must be followed by tool messages answering each tool_call_id; not answered: call_1.`,
    );
    expect(
      await refused([...ask, { role: 'assistant', content: null, tool_calls: [{ ...call, function: { name: 'get_weather', arguments: '{' } }] }], {}),
    ).toBe(`${prefix}messages[1].tool_calls[0].function.arguments is not valid JSON.`);
  });
});
