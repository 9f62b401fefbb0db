import 'reflect-metadata';
import { Type } from 'class-transformer';
import { ArrayMinSize, IsArray, IsBoolean, IsEnum, IsIn, IsInt, IsNumber, IsOptional, IsString, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { objectSchemaOf, ProviderError, StructuredOutputError, type ChatCompletionMessageParam, type LLM } from '@hush/providers';
import { FakeLLM } from '@hush/providers/testing';
import { anthropicLLM } from '../libs/providers/src/providers/anthropic/anthropic.llm.js';
import { azureOpenAILLM } from '../libs/providers/src/providers/azure-openai/azure-openai.llm.js';
import { geminiLLM } from '../libs/providers/src/providers/gemini/gemini.llm.js';
import { openaiCompatibleLLM } from '../libs/providers/src/providers/openai/openai-compatible.llm.js';
import { openaiLLM } from '../libs/providers/src/providers/openai/openai.llm.js';
import { grammarSchema } from '../libs/providers/src/providers/llama-cpp/llama-cpp-chat-driver.js';
import { llamaCppLLM } from '../libs/providers/src/providers/llama-cpp/llama-cpp.llm.js';
import { ensureTinyModels } from './support/llama-models.js';
import { AnthropicFakeServer } from './fakes/anthropic-fake-server.js';
import { GeminiFakeServer } from './fakes/gemini-fake-server.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { boot, collect, rejection, type Booted } from './support/provider-kit.js';

enum Sky {
  Clear = 'clear',
  Cloudy = 'cloudy',
}

class Day {
  @IsString() day!: string;
  @IsInt() @Min(-90) @Max(60) high!: number;
}

class Weather {
  @IsString() @MaxLength(40) city!: string;
  @IsInt() @Min(-90) @Max(60) celsius!: number;
  @IsEnum(Sky) sky!: Sky;
  @IsIn(['metric', 'imperial']) units!: string;
  @IsOptional() @IsBoolean() windy?: boolean;
  @IsOptional() @IsNumber() humidity?: number;
  @IsArray() @IsString({ each: true }) alerts!: string[];
  @ValidateNested({ each: true }) @ArrayMinSize(1) @Type(() => Day) forecast!: Day[];
}

const DAY_SCHEMA = {
  type: 'object',
  properties: { day: { type: 'string' }, high: { type: 'integer', minimum: -90, maximum: 60 } },
  required: ['day', 'high'],
  additionalProperties: false,
};

const WEATHER_SCHEMA = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 40 },
    celsius: { type: 'integer', minimum: -90, maximum: 60 },
    sky: { type: 'string', enum: ['clear', 'cloudy'] },
    units: { type: 'string', enum: ['metric', 'imperial'] },
    windy: { type: ['boolean', 'null'] },
    humidity: { type: ['number', 'null'] },
    alerts: { type: 'array', items: { type: 'string' } },
    forecast: { type: 'array', items: DAY_SCHEMA, minItems: 1 },
  },
  required: ['city', 'celsius', 'sky', 'units', 'windy', 'humidity', 'alerts', 'forecast'],
  additionalProperties: false,
};

const RESPONSE_FORMAT = { type: 'json_schema', json_schema: { name: 'Weather', schema: WEATHER_SCHEMA, strict: true } };

const GOOD = {
  city: 'Oslo',
  celsius: 4,
  sky: 'cloudy',
  units: 'metric',
  windy: null,
  humidity: 0.7,
  alerts: ['ice'],
  forecast: [{ day: 'Mon', high: 6 }],
};
// celsius over its maximum, and a forecast day whose high is not an integer.
const BAD = { ...GOOD, celsius: 200, forecast: [{ day: 'Mon', high: 'warm' }] };
const BAD_LINES = [
  'celsius: celsius must not be greater than 60',
  'forecast.0.high: high must not be greater than 60',
  'forecast.0.high: high must not be less than -90',
  'forecast.0.high: high must be an integer number',
];

const ask: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Oslo?' }];

function expectWeather(object: unknown): void {
  expect(object).toBeInstanceOf(Weather);
  const weather = object as Weather;
  expect(weather.forecast[0]).toBeInstanceOf(Day);
  expect(weather).toEqual(Object.assign(new Weather(), { ...GOOD, windy: undefined, forecast: [Object.assign(new Day(), { day: 'Mon', high: 6 })] }));
  // An optional field answered as null is absent.
  expect(weather.windy).toBeUndefined();
}

function repairOf(answer: unknown, lines: string[]): ChatCompletionMessageParam[] {
  return [
    { role: 'assistant', content: JSON.stringify(answer) },
    {
      role: 'user',
      content: ['Your answer is not a valid Weather:', ...lines.map((l) => `- ${l}`), 'Answer again with the corrected JSON object only.'].join('\n'),
    },
  ];
}

describe('the schema of a DTO', () => {
  it('has nested DTOs, arrays, enums, optional fields and bounds, strict-mode ready, made once per class', () => {
    const made = objectSchemaOf(Weather);
    expect(made).toEqual({ name: 'Weather', schema: WEATHER_SCHEMA });
    expect(objectSchemaOf(Weather)).toBe(made);
  });

  it('refuses a class without decorators, a nested field without @Type, and a DTO that contains itself', () => {
    class Bare {
      name = '';
    }
    class Loose {
      @ValidateNested() inner!: Day;
    }
    class Node {
      @IsString() name!: string;
      @IsOptional() @ValidateNested({ each: true }) @Type(() => Node) children?: Node[];
    }
    expect(() => objectSchemaOf(Bare)).toThrow('Bare has no class-validator decorators: generateObject cannot make a schema of it.');
    expect(() => objectSchemaOf(Loose)).toThrow('Loose.inner has @ValidateNested but no @Type(() => Class): generateObject needs the class to describe it.');
    expect(() => objectSchemaOf(Node)).toThrow('Node → Node: a DTO that contains itself has no finite schema; generateObject does not take it.');
  });

  it('reads anyOf as oneOf for the llama-cpp grammar', () => {
    expect(grammarSchema({ type: 'object', properties: { a: { anyOf: [{ type: 'object', properties: {} }, { type: 'null' }] } } })).toEqual({
      type: 'object',
      properties: { a: { oneOf: [{ type: 'object', properties: {} }, { type: 'null' }] } },
    });
  });
});

describe('generateObject on the OpenAI-shaped types', () => {
  let openai: OpenAIFakeServer;
  let azure: OpenAIFakeServer;
  let gemini: GeminiFakeServer;
  let anthropic: AnthropicFakeServer;
  let app: Booted | undefined;

  beforeAll(async () => {
    [openai, azure, gemini, anthropic] = await Promise.all([
      OpenAIFakeServer.start({ apiKey: 'sk-test' }),
      OpenAIFakeServer.start({ azure: { deployment: 'gpt', apiVersion: '2024-10-21' }, apiKey: 'az-key' }),
      GeminiFakeServer.start({ apiKey: 'g-key' }),
      AnthropicFakeServer.start({ apiKey: 'a-key' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([openai.close(), azure.close(), gemini.close(), anthropic.close()]);
  });
  beforeEach(() => {
    for (const fake of [openai, azure, gemini, anthropic]) fake.reset();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const answers = (fake: OpenAIFakeServer | GeminiFakeServer, ...contents: unknown[]) => {
    for (const content of contents) {
      const text = typeof content === 'string' ? content : JSON.stringify(content);
      fake.enqueue({ kind: 'mutate', json: (answer: any) => ((answer.choices[0].message.content = text), answer) } as never);
    }
  };

  async function llm(name: string, entry: Record<string, unknown>, extra: Record<string, Record<string, unknown>> = {}): Promise<LLM> {
    app = await boot({ llm: { [name]: { maxRetries: 0, ...entry } as unknown as { type: string }, ...(extra as Record<string, { type: string }>) } }, [
      openaiLLM,
      openaiCompatibleLLM,
      azureOpenAILLM,
      geminiLLM,
      anthropicLLM,
    ]);
    return app.registry.llm(name);
  }
  const gpt = (entry: Record<string, unknown> = {}, extra: Record<string, Record<string, unknown>> = {}) =>
    llm('gpt', { type: 'openai', model: 'gpt-4o', apiKey: 'sk-test', baseUrl: `${openai.baseUrl}`, ...entry }, extra);

  it('openai: sends response_format json_schema (strict) and resolves to a validated instance', async () => {
    const model = await gpt();
    answers(openai, GOOD);
    const { object, completion, attempts } = await model.generateObject(Weather, ask);
    expectWeather(object);
    expect(attempts).toBe(1);
    expect(completion.choices[0]!.message.content).toBe(JSON.stringify(GOOD));
    expect(openai.requests).toHaveLength(1);
    expect(openai.lastRequest!.body).toMatchObject({ model: 'gpt-4o', messages: ask, response_format: RESPONSE_FORMAT });
  });

  it('openai-compatible and azure send the same response_format', async () => {
    let model = await llm('local', { type: 'openai-compatible', model: 'qwen', baseUrl: openai.baseUrl, apiKey: 'sk-test' });
    answers(openai, GOOD);
    expectWeather((await model.generateObject(Weather, ask)).object);
    expect(openai.lastRequest!.body.response_format).toEqual(RESPONSE_FORMAT);
    await app!.close();

    model = await llm('az', { type: 'azure-openai', endpoint: azure.origin, deployment: 'gpt', apiVersion: '2024-10-21', apiKey: 'az-key' });
    answers(azure, GOOD);
    expectWeather((await model.generateObject(Weather, ask)).object);
    expect(azure.lastRequest!.body.response_format).toEqual(RESPONSE_FORMAT);
  });

  it('gemini: sends response_format json_schema to its OpenAI endpoint', async () => {
    const model = await llm('flash', { type: 'gemini', model: 'gemini-2.5-flash', apiKey: 'g-key', baseUrl: gemini.baseUrl });
    answers(gemini, GOOD);
    expectWeather((await model.generateObject(Weather, ask)).object);
    expect(gemini.lastRequest!.pathname).toBe('/v1beta/openai/chat/completions');
    expect(gemini.lastRequest!.body.response_format).toEqual(RESPONSE_FORMAT);
  });

  it('sends an invalid answer back with its errors, and resolves with the repaired one', async () => {
    const model = await gpt();
    answers(openai, BAD, GOOD);
    const { object, attempts } = await model.generateObject(Weather, ask, { maxRepairs: 1 });
    expectWeather(object);
    expect(attempts).toBe(2);
    expect(openai.requests).toHaveLength(2);
    expect(openai.requests[1]!.body.messages).toEqual([...ask, ...repairOf(BAD, BAD_LINES)]);
    expect(openai.requests[1]!.body.response_format).toEqual(RESPONSE_FORMAT);
  });

  it('fails with StructuredOutputError after exactly 1 + maxRepairs calls when the answer stays invalid', async () => {
    const model = await gpt();
    answers(openai, BAD, BAD, BAD, BAD);
    const err = await rejection(() => model.generateObject(Weather, ask));
    expect(err).toBeInstanceOf(StructuredOutputError);
    expect(err.message).toBe(
      `generateObject(Weather): the answer is not a valid Weather after 3 attempts (maxRepairs 2); it broke 2 rules: ${BAD_LINES.join('; ')}`,
    );
    expect(err.raw).toBe(JSON.stringify(BAD));
    expect(err.attempts).toBe(3);
    expect(err.errors.map((e: any) => e.property)).toEqual(['celsius', 'forecast']);
    expect(openai.requests).toHaveLength(3);
    // Each repair carries the whole conversation so far.
    expect(openai.requests[2]!.body.messages).toHaveLength(5);
  });

  it('maxRepairs 0 makes one call; a JSON parse error is reported as such', async () => {
    const model = await gpt();
    answers(openai, '{"city": "Oslo",');
    const err = await rejection(() => model.generateObject(Weather, ask, { maxRepairs: 0 }));
    expect(err).toBeInstanceOf(StructuredOutputError);
    expect(err.errors).toBeInstanceOf(SyntaxError);
    expect(err.errors.message).toMatch(/^the answer is not JSON \(/);
    expect(err.message).toBe(`generateObject(Weather): the answer is not a valid Weather after 1 attempt (maxRepairs 0); ${err.errors.message}`);
    expect(err.raw).toBe('{"city": "Oslo",');
    expect(err.attempts).toBe(1);
    expect(openai.requests).toHaveLength(1);
  });

  it('repairs an answer that is not JSON, naming the parse error', async () => {
    const model = await gpt();
    answers(openai, 'Sure! Here it is.', GOOD);
    const { attempts } = await model.generateObject(Weather, ask);
    expect(attempts).toBe(2);
    const repair = openai.requests[1]!.body.messages.at(-1).content as string;
    expect(repair).toMatch(/^Your answer is not a valid Weather:\n- the answer is not JSON \(.+\)\nAnswer again with the corrected JSON object only\.$/);
  });

  it('checks maxRepairs before any call', async () => {
    const model = await gpt();
    for (const bad of [-1, 1.5, 11, Number.NaN]) {
      const err = await rejection(() => model.generateObject(Weather, ask, { maxRepairs: bad }));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.message).toBe(`generateObject maxRepairs must be a whole number from 0 to 10; got ${bad}.`);
    }
    expect(openai.requests).toHaveLength(0);
  });

  it('retries a failed upstream call within one attempt, like any call', async () => {
    const model = await gpt({ maxRetries: 1, backoffBaseMs: 1, backoffMaxMs: 1 });
    openai.enqueue({ kind: 'error', status: 500, error: { message: 'boom' } });
    answers(openai, GOOD);
    const { attempts } = await model.generateObject(Weather, ask);
    expect(attempts).toBe(1);
    expect(openai.requests).toHaveLength(2);
  });

  it('has one deadline for the whole call, repairs included', async () => {
    const model = await gpt();
    answers(openai, BAD);
    openai.enqueue({ kind: 'delay', ms: 5_000 });
    const started = Date.now();
    const err = await rejection(() => model.generateObject(Weather, ask, { timeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
    expect(err.message).toBe(
      'llm "gpt" (openai): no answer within timeoutMs 300 ms (2 attempts, retries and fallbacks included). Raise timeoutMs, or look at the upstream\'s health.',
    );
    expect(openai.requests).toHaveLength(2);
  });

  it('rejects with the caller abort', async () => {
    const model = await gpt();
    openai.enqueue({ kind: 'delay', ms: 5_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await rejection(() => model.generateObject(Weather, ask, { signal: controller.signal }));
    expect(err.name).toBe('AbortError');
    expect(openai.requests).toHaveLength(1);
  });

  it('a fallback of another type asks in its own way (openai → anthropic forced tool)', async () => {
    const model = await gpt(
      { fallbacks: ['claude'] },
      { claude: { type: 'anthropic', model: 'claude-sonnet-4-5', apiKey: 'a-key', baseUrl: anthropic.baseUrl, maxRetries: 0 } },
    );
    openai.enqueue({ kind: 'error', status: 503, error: { message: 'down' } });
    anthropic.replyNext({ content: [{ type: 'tool_use', name: 'Weather', input: GOOD }], stopReason: 'tool_use' });
    const { object, completion } = await model.generateObject(Weather, ask);
    expectWeather(object);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(openai.lastRequest!.body.response_format).toEqual(RESPONSE_FORMAT);
    expect(anthropic.requests).toHaveLength(1);
    expect(anthropic.lastRequest!.body.response_format).toBeUndefined();
    expect(anthropic.lastRequest!.body.tools).toEqual([{ name: 'Weather', description: 'Give the answer as Weather.', input_schema: WEATHER_SCHEMA }]);
    expect(anthropic.lastRequest!.body.tool_choice).toEqual({ type: 'tool', name: 'Weather' });
  });

  describe('anthropic', () => {
    const claude = () => llm('claude', { type: 'anthropic', model: 'claude-sonnet-4-5', apiKey: 'a-key', baseUrl: anthropic.baseUrl });

    it('asks with a forced tool and reads the object from the tool_use block', async () => {
      const model = await claude();
      anthropic.replyNext({ content: [{ type: 'tool_use', id: 'toolu_1', name: 'Weather', input: GOOD }], stopReason: 'tool_use' });
      const { object, completion, attempts } = await model.generateObject(Weather, ask);
      expectWeather(object);
      expect(attempts).toBe(1);
      expect(completion.choices[0]!.message.content).toBe(JSON.stringify(GOOD));
      expect(completion.choices[0]!.message.tool_calls).toBeUndefined();
      expect(anthropic.lastRequest!.body).toMatchObject({
        model: 'claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
        tools: [{ name: 'Weather', description: 'Give the answer as Weather.', input_schema: WEATHER_SCHEMA }],
        tool_choice: { type: 'tool', name: 'Weather' },
      });
    });

    it('takes response_format json_object as a forced tool whose input is any object, handed back as JSON text', async () => {
      const model = await claude();
      anthropic.replyNext({ content: [{ type: 'tool_use', id: 'toolu_1', name: 'json', input: { city: 'Oslo', celsius: 7 } }], stopReason: 'tool_use' });
      const completion = await model.generate(ask, { response_format: { type: 'json_object' } });
      expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ city: 'Oslo', celsius: 7 });
      expect(completion.choices[0]!.finish_reason).toBe('stop');
      expect(anthropic.lastRequest!.body).toMatchObject({
        tools: [{ name: 'json', description: 'Give the answer as one JSON object.', input_schema: { type: 'object', additionalProperties: true } }],
        tool_choice: { type: 'tool', name: 'json' },
      });
    });

    it('with thinking on (reasoning_effort), leaves the tool to the model: Anthropic refuses a forced one then', async () => {
      const model = await claude();
      anthropic.replyNext({ content: [{ type: 'tool_use', id: 'toolu_1', name: 'Weather', input: GOOD }], stopReason: 'tool_use' });
      const { object } = await model.generateObject(Weather, ask, { reasoning_effort: 'low' });
      expectWeather(object);
      expect(anthropic.lastRequest!.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 1024 }, tool_choice: { type: 'auto' } });
    });

    it('repairs through the same tool: the invalid answer goes back as an assistant turn, then the errors', async () => {
      const model = await claude();
      anthropic.replyNext({ content: [{ type: 'tool_use', name: 'Weather', input: BAD }], stopReason: 'tool_use' });
      anthropic.replyNext({ content: [{ type: 'tool_use', name: 'Weather', input: BAD }], stopReason: 'tool_use' });
      const err = await rejection(() => model.generateObject(Weather, ask, { maxRepairs: 1 }));
      expect(err).toBeInstanceOf(StructuredOutputError);
      expect(err.attempts).toBe(2);
      expect(anthropic.requests).toHaveLength(2);
      expect(anthropic.requests[1]!.body.messages).toEqual([
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: JSON.stringify(BAD) },
        { role: 'user', content: repairOf(BAD, BAD_LINES)[1]!.content as string },
      ]);
    });

    it('streams the forced tool input as content', async () => {
      const model = await claude();
      anthropic.replyNext({ content: [{ type: 'tool_use', name: 'Weather', input: GOOD }], stopReason: 'tool_use' });
      const chunks = await collect(model.stream(ask, { response_format: RESPONSE_FORMAT as never }));
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(JSON.parse(text)).toEqual(GOOD);
      expect(chunks.some((c) => c.choices[0]?.delta.tool_calls)).toBe(false);
      expect(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(['stop']);
    });
  });
});

describe('FakeLLM and generateObject', () => {
  it('answers scripted objects, repairs invalid ones, and records the response_format', async () => {
    const fake = new FakeLLM().reply({ object: BAD }, { object: GOOD });
    const { object, attempts } = await fake.generateObject(Weather, ask);
    expectWeather(object);
    expect(attempts).toBe(2);
    expect(fake.calls.map((c) => c.method)).toEqual(['generate', 'generate']);
    expect(fake.calls[0]!.options.response_format).toEqual(RESPONSE_FORMAT);
    expect(fake.calls[1]!.messages).toEqual([...ask, ...repairOf(BAD, BAD_LINES)]);
  });

  it('fails like a real LLM once the repairs are used up', async () => {
    const fake = new FakeLLM({ default: { object: { city: 'Oslo' } } });
    const err = await rejection(() => fake.generateObject(Weather, ask, { maxRepairs: 0 }));
    expect(err).toBeInstanceOf(StructuredOutputError);
    expect(err.raw).toBe('{"city":"Oslo"}');
    expect(err.attempts).toBe(1);
    expect(fake.calls).toHaveLength(1);
  });

  it('scripts tool calls, plain and streamed', async () => {
    const fake = new FakeLLM().reply({ toolCalls: [{ name: 'lookup', arguments: { city: 'Oslo' }, id: 'call_1' }] }, { toolCalls: [{ name: 'now' }] });
    const completion = await fake.generate(ask);
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"city":"Oslo"}' } }],
      },
    });
    const chunks = await collect(fake.stream(ask));
    expect(chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])).toEqual([
      { index: 0, id: expect.stringMatching(/^call_fake_/), type: 'function', function: { name: 'now', arguments: '{}' } },
    ]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(['tool_calls']);
  });
});

describe('llama-cpp: a grammar made from the schema, on the tiny random model', () => {
  class Verdict {
    @IsBoolean() ok!: boolean;
    @IsIn(['spam', 'ham']) kind!: string;
    @IsOptional() @IsIn([1, 2, 3]) stars?: number;
  }

  it('answers a valid instance even from random weights', async () => {
    const tiny = ensureTinyModels();
    const booted = await boot({ llm: { local: { type: 'llama-cpp', model: tiny.chat, contextSize: 1024 } } }, [llamaCppLLM]);
    try {
      const { object, attempts } = await booted.registry.llm('local').generateObject(Verdict, ask, { max_tokens: 60, seed: 3, maxRepairs: 0 });
      expect(object).toBeInstanceOf(Verdict);
      expect(typeof object.ok).toBe('boolean');
      expect(['spam', 'ham']).toContain(object.kind);
      expect(attempts).toBe(1);
    } finally {
      await booted.close();
    }
  });
});
