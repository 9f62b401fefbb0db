import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ChatCompletionRequestDto } from '../src/chat/chat.dto.js';
import { callParameters } from '../src/chat/chat.service.js';
import { EmbeddingRequestDto } from '../src/embeddings/embeddings.dto.js';
import { bodyCheck } from '../src/common/fast-validation.js';
import { OpenAIError } from '../src/common/openai-error.js';
import { createValidationPipe } from '../src/common/validation.js';
import { RerankRequestDto } from '../src/rerank/rerank.dto.js';

/**
 * The quick body check (src/common/fast-validation.ts) against the full class-transformer +
 * class-validator path it stands in front of: over hand-made and generated bodies, the gateway's pipe
 * must accept exactly what the full path accepts, hand on the same data, and refuse with the same
 * answer (status, message, param, code); and every ordinary valid body must take the quick path.
 */

const quick = createValidationPipe();
const full = createValidationPipe({ quick: false });

type Outcome = { ok: true; data: unknown; params?: unknown } | { ok: false; status: number; body: unknown };

async function outcome(pipe: typeof quick, text: string, metatype: Function): Promise<Outcome> {
  const metadata: ArgumentMetadata = { type: 'body', metatype: metatype as ArgumentMetadata['metatype'], data: undefined };
  try {
    const value = await pipe.transform(JSON.parse(text), metadata);
    const data = JSON.parse(JSON.stringify(value));
    return metatype === ChatCompletionRequestDto
      ? { ok: true, data, params: JSON.parse(JSON.stringify(callParameters(value as ChatCompletionRequestDto))) }
      : { ok: true, data };
  } catch (err) {
    if (!(err instanceof OpenAIError)) throw err;
    return { ok: false, status: err.getStatus(), body: err.body };
  }
}

async function expectSame(text: string, metatype: Function): Promise<Outcome> {
  const [a, b] = await Promise.all([outcome(quick, text, metatype), outcome(full, text, metatype)]);
  expect([text, a]).toEqual([text, b]);
  return a;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ANY = [
  null,
  true,
  false,
  0,
  1,
  -1,
  1.5,
  2,
  2.5,
  3,
  20,
  21,
  -2.5,
  Number.POSITIVE_INFINITY,
  '',
  'x',
  'auto',
  'none',
  [],
  ['a'],
  [1, 2],
  {},
  { a: 1 },
  { type: 'text' },
];

const user = { role: 'user', content: 'hi' };
const MESSAGES = [
  [user],
  [{ role: 'system', content: 'Be brief.' }, user],
  [
    { role: 'developer', content: 'x' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'look' },
        { type: 'image_url', image_url: { url: 'data:,' } },
      ],
    },
  ],
  [
    user,
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: '42' },
  ],
  [user, { role: 'assistant', content: 'ok', name: 'bot', reasoning_content: 'thinking' }],
  [{ role: 'function', name: 'f', content: null }],
  [user, { role: 'assistant', refusal: 'no' }],
  // Refused, each for its own reason.
  [],
  [{ role: 'robot', content: 'x' }],
  [{ content: 'x' }],
  [{ role: 'user' }],
  [{ role: 'user', content: 5 }],
  [{ role: 'user', content: [] }],
  [{ role: 'user', content: [{ type: 'text' }] }],
  [{ role: 'user', content: [{ text: 'x' }] }],
  [{ role: 'user', content: ['x'] }],
  [{ role: 'user', content: 'x', name: 3 }],
  [{ role: 'tool', content: 'x' }],
  [{ role: 'assistant' }],
  [{ role: 'assistant', content: 'x', tool_calls: {} }],
  [{ role: 'assistant', content: 'x', tool_calls: [{ id: 1 }] }],
  ['hello'],
  'hello',
  { role: 'user', content: 'x' },
];

/** Values worth trying per field: valid ones first, then ones near the edges. */
const CHAT_FIELDS: Record<string, unknown[]> = {
  model: ['chat', '', 5, null],
  messages: MESSAGES,
  stream: [true, false, null, 'yes', 1],
  stream_options: [
    { include_usage: true },
    { include_usage: false, include_obfuscation: true },
    {},
    null,
    { usage: true },
    { include_usage: 'yes' },
    true,
    [],
    [{}],
  ],
  temperature: [0, 0.7, 2, -0.1, 2.01, 'hot', Number.NaN],
  top_p: [0, 0.5, 1, 1.1],
  max_tokens: [1, 50, 0, 1.5, -3],
  max_completion_tokens: [1, 4096, 0, 2.5],
  stop: ['\n', ['a', 'b'], ['a', 'b', 'c', 'd', 'e'], [1], 5, []],
  tools: [
    [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
    [{ type: 'custom', custom: {} }],
    [{ type: 'function', function: {} }],
    [{ function: { name: 'f' } }],
    ['f'],
    {},
  ],
  tool_choice: ['none', 'auto', 'required', { type: 'function', function: { name: 'f' } }, 'always', { function: {} }],
  parallel_tool_calls: [true, false, 'yes'],
  response_format: [
    { type: 'text' },
    { type: 'json_object' },
    { type: 'json_schema', json_schema: { name: 's', schema: {} } },
    { type: 'json_schema' },
    { type: 'xml' },
    'json',
  ],
  seed: [7, -1, 1.5, '7'],
  n: [1, 2, 0, null],
  frequency_penalty: [-2, 0, 2, 2.5, -3],
  presence_penalty: [-2, 1, -2.1],
  logit_bias: [{ '50256': -100 }, {}, [], 'x'],
  logprobs: [true, false, 'true'],
  top_logprobs: [0, 5, 20, 21, 1.5],
  user: ['u-1', '', 5],
  safety_identifier: ['s', null, 1],
  prompt_cache_key: ['k', 2],
  prompt_cache_retention: ['in_memory', '24h', '1h'],
  prompt_cache_options: [{ a: 1 }, 'x'],
  reasoning_effort: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max', 'extreme'],
  verbosity: ['low', 'high', 'loud'],
  service_tier: ['auto', 'default', 'flex', 'scale', 'priority', 'fast'],
  metadata: [{ k: 'v' }, [], 'x'],
  store: [true, false, 'no'],
  modalities: [['text'], ['text', 'audio'], ['video'], 'text', []],
  audio: [{ voice: 'alloy', format: 'wav' }, 'alloy'],
  prediction: [{ type: 'content', content: 'x' }, 3],
  web_search_options: [{}, []],
  moderation: [{}, 'x'],
  functions: [[{ name: 'f' }], [1], {}],
  function_call: ['none', 'auto', { name: 'f' }, 'always', 1],
  top_k: [5],
  prompt: ['x'],
};

const EMBED_FIELDS: Record<string, unknown[]> = {
  model: ['docs', '', 3],
  input: ['text', ['a', 'b'], '', [], ['a', ''], [1, 2, 3], [[1, 2]], ['a', 1], [{}], { text: 'x' }],
  encoding_format: ['float', 'base64', 'int8', null],
  dimensions: [1, 512, 65536, 0, 65537, 1.5, '8'],
  user: ['u', 1],
  input_type: ['query', 'document', 'passage'],
  truncate: [true],
};

const RERANK_FIELDS: Record<string, unknown[]> = {
  model: ['rerank', '', 2],
  query: ['capital of France', '', 5],
  documents: [['a', 'b'], [{ text: 'a' }, 'b'], [], ['a', 7], [{ txt: 'a' }], 'abc', [null]],
  top_n: [1, 3, 0, 2.5],
  return_documents: [true, false, 'yes'],
  rank_fields: [['text']],
};

/** The body keys that the full path strips, anywhere in the body: such a body must take the full path. */
const STRIPPED_KEYS = ['"__proto__"', '"constructor"', '"prototype"', '"\\u005f_proto__"'];

function generated(fields: Record<string, unknown[]>, base: Record<string, unknown>, seed: number, count: number): string[] {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const names = Object.keys(fields);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const body: Record<string, unknown> = { ...base };
    const changes = 1 + Math.floor(next() * 4);
    for (let c = 0; c < changes; c++) {
      const name = pick(names);
      const roll = next();
      if (roll < 0.1) delete body[name];
      else body[name] = roll < 0.75 ? pick(fields[name]!) : pick(ANY);
    }
    let text = JSON.stringify(body);
    if (next() < 0.05) {
      // A key the full path strips, at the top or deep inside.
      const key = pick(STRIPPED_KEYS);
      text = next() < 0.5 ? text.replace('{', `{${key}:{"x":1},`) : text.replace(/\{"role"/, `{${key}:"y","role"`);
    }
    out.push(text);
  }
  return out;
}

describe('the quick body check answers exactly as class-transformer + class-validator', () => {
  it('accepts ordinary requests on the quick path, with the same data and call parameters', async () => {
    const chat = [
      { model: 'chat', messages: [user] },
      ...MESSAGES.slice(0, 7).map((messages) => ({ model: 'chat', messages })),
      { model: 'chat', messages: [user], stream: true, stream_options: { include_usage: true } },
      {
        model: 'chat',
        messages: [user],
        temperature: 0.5,
        top_p: 1,
        max_tokens: 50,
        max_completion_tokens: 60,
        stop: ['x'],
        seed: 7,
        user: 'u-1',
        n: 1,
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }],
        tool_choice: 'auto',
        parallel_tool_calls: false,
        response_format: { type: 'json_schema', json_schema: { name: 's', schema: {} } },
        frequency_penalty: 0.1,
        presence_penalty: -0.1,
        logit_bias: { '1': 2 },
        logprobs: true,
        top_logprobs: 2,
        safety_identifier: null,
        reasoning_effort: 'low',
        verbosity: 'low',
        service_tier: 'auto',
        metadata: { k: 'v' },
        store: false,
        modalities: ['text'],
      },
    ];
    for (const body of chat) {
      expect(bodyCheck(ChatCompletionRequestDto)!(JSON.parse(JSON.stringify(body)))).toBe(true);
      expect(await expectSame(JSON.stringify(body), ChatCompletionRequestDto)).toMatchObject({ ok: true });
    }
    for (const body of [
      { model: 'docs', input: 'x' },
      { model: 'docs', input: ['a', 'b'], encoding_format: 'base64', dimensions: 8, input_type: 'query' },
    ]) {
      expect(bodyCheck(EmbeddingRequestDto)!(body)).toBe(true);
      expect(await expectSame(JSON.stringify(body), EmbeddingRequestDto)).toMatchObject({ ok: true });
    }
    for (const body of [{ model: 'rerank', query: 'q', documents: ['a', { text: 'b' }], top_n: 1, return_documents: true }]) {
      expect(bodyCheck(RerankRequestDto)!(body)).toBe(true);
      expect(await expectSame(JSON.stringify(body), RerankRequestDto)).toMatchObject({ ok: true });
    }
  });

  it('leaves to the full path every body with a key it strips (__proto__, constructor, prototype), at any depth', async () => {
    for (const key of STRIPPED_KEYS) {
      for (const text of [
        `{${key}:{"model":"x"},"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
        `{"model":"chat","messages":[{${key}:"x","role":"user","content":"hi"}]}`,
        `{"model":"chat","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"properties":{${key}:{}}}}}]}`,
      ]) {
        expect(bodyCheck(ChatCompletionRequestDto)!(JSON.parse(text))).toBe(false);
        await expectSame(text, ChatCompletionRequestDto);
      }
    }
  });

  it('every field, alone, with each value tried: same answer', async () => {
    const base = { model: 'chat', messages: [user] };
    for (const [name, values] of Object.entries(CHAT_FIELDS)) {
      for (const value of [...values, ...ANY]) await expectSame(JSON.stringify({ ...base, [name]: value }), ChatCompletionRequestDto);
    }
    for (const [name, values] of Object.entries(EMBED_FIELDS)) {
      for (const value of [...values, ...ANY]) await expectSame(JSON.stringify({ model: 'docs', input: 'x', [name]: value }), EmbeddingRequestDto);
    }
    for (const [name, values] of Object.entries(RERANK_FIELDS)) {
      for (const value of [...values, ...ANY])
        await expectSame(JSON.stringify({ model: 'rerank', query: 'q', documents: ['a'], [name]: value }), RerankRequestDto);
    }
  });

  it('generated bodies (several fields at once, some missing): same answer for each', async () => {
    const cases: Array<[string, Function]> = [
      ...generated(CHAT_FIELDS, { model: 'chat', messages: [user] }, 1, 1500).map((t) => [t, ChatCompletionRequestDto] as [string, Function]),
      ...generated(EMBED_FIELDS, { model: 'docs', input: 'x' }, 2, 400).map((t) => [t, EmbeddingRequestDto] as [string, Function]),
      ...generated(RERANK_FIELDS, { model: 'rerank', query: 'q', documents: ['a'] }, 3, 400).map((t) => [t, RerankRequestDto] as [string, Function]),
    ];
    let accepted = 0;
    for (const [text, dto] of cases) if ((await expectSame(text, dto)).ok) accepted++;
    // Both kinds were exercised.
    expect(accepted).toBeGreaterThan(cases.length / 10);
    expect(accepted).toBeLessThan(cases.length * 0.9);
  });
});
