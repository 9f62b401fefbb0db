import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionMessageParam, LLM } from '@hush/providers';
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { anthropicLLM } from '../libs/providers/src/providers/anthropic/anthropic.llm.js';
import { geminiLLM } from '../libs/providers/src/providers/gemini/gemini.llm.js';
import { AnthropicFakeServer } from './fakes/anthropic-fake-server.js';
import { GeminiFakeServer } from './fakes/gemini-fake-server.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { boot, type Booted } from './support/provider-kit.js';

/**
 * A whole tool loop on each hosted LLM type, over its service's fake: the model asks for a tool
 * (`tool_calls`), the app runs it and sends its result back (`role: tool`), the model answers. The
 * second request must carry the call and the result in the service's own shape.
 */

const KEY = 'sk-test-tool-loop-0000';
const GEMINI_KEY = 'AIzaSyFAKE-TOOLLOOP0123456789abcdefXYZ';
const ANTHROPIC_KEY = 'sk-ant-test-tool-loop-0000';

const tools: ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'weather',
      description: 'The weather in a city.',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];
const ask: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Oslo?' }];
const CALL = { id: 'call_1', type: 'function' as const, function: { name: 'weather', arguments: '{"city":"Oslo"}' } };

/** An OpenAI-shaped answer turned into a tool call (what the model answers when it wants the tool). */
const toToolCall = (answer: any) => ({
  ...answer,
  choices: [{ ...answer.choices[0], message: { role: 'assistant', content: null, tool_calls: [CALL] }, finish_reason: 'tool_calls' }],
});

let openai: OpenAIFakeServer;
let azure: OpenAIFakeServer;
let gemini: GeminiFakeServer;
let anthropic: AnthropicFakeServer;
let app: Booted | undefined;

beforeAll(async () => {
  [openai, azure, gemini, anthropic] = await Promise.all([
    OpenAIFakeServer.start({ apiKey: KEY }),
    OpenAIFakeServer.start({ apiKey: KEY, azure: { deployment: 'gpt4o', apiVersion: '2024-10-21' } }),
    GeminiFakeServer.start({ apiKey: GEMINI_KEY }),
    AnthropicFakeServer.start({ apiKey: ANTHROPIC_KEY }),
  ]);
});
afterAll(async () => {
  await Promise.all([openai.close(), azure.close(), gemini.close(), anthropic.close()]);
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function llm(entry: Record<string, unknown> & { type: string }): Promise<LLM> {
  app = await boot({ llm: { m: { maxRetries: 0, ...entry } } }, [geminiLLM, anthropicLLM]);
  return app.registry.llm('m');
}

/** Runs the loop: the first answer must be the tool call; the tool's result goes back; the final answer is text. */
async function loop(model: LLM): Promise<{ first: any; final: any }> {
  const first = await model.generate(ask, { tools, tool_choice: 'auto' });
  const call = first.choices[0]!.message.tool_calls![0]!;
  const final = await model.generate(
    [...ask, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '{"celsius":7}' }],
    { tools },
  );
  return { first, final };
}

describe('a tool loop on every hosted type', () => {
  const openAIShaped: Array<[string, () => OpenAIFakeServer | GeminiFakeServer, () => Record<string, unknown> & { type: string }]> = [
    ['openai', () => openai, () => ({ type: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, model: 'gpt-4o-mini' })],
    ['openai-compatible', () => openai, () => ({ type: 'openai-compatible', baseUrl: openai.baseUrl, apiKey: KEY, model: 'qwen3' })],
    ['azure-openai', () => azure, () => ({ type: 'azure-openai', endpoint: azure.origin, deployment: 'gpt4o', apiVersion: '2024-10-21', apiKey: KEY })],
    ['gemini', () => gemini, () => ({ type: 'gemini', baseUrl: gemini.baseUrl, apiKey: GEMINI_KEY, model: 'gemini-2.5-flash' })],
  ];

  for (const [type, server, entry] of openAIShaped) {
    it(`${type}: the call comes back as tool_calls, and the call and its result go upstream as OpenAI's messages`, async () => {
      const fake = server();
      fake.reset();
      (fake as OpenAIFakeServer).enqueue({ kind: 'mutate', json: toToolCall });
      const { first, final } = await loop(await llm(entry()));
      expect(first.choices[0].finish_reason).toBe('tool_calls');
      expect(first.choices[0].message.tool_calls).toEqual([CALL]);
      const [one, two] = fake.requests.filter((r) => r.pathname.endsWith('/chat/completions'));
      expect(one!.body.tools).toEqual(tools);
      expect(one!.body.tool_choice).toBe('auto');
      expect(two!.body.messages.slice(1)).toEqual([
        { role: 'assistant', content: null, tool_calls: [CALL] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"celsius":7}' },
      ]);
      expect(typeof final.choices[0].message.content).toBe('string');
      expect(final.choices[0].finish_reason).toBe('stop');
    });
  }

  it('anthropic: tool_use comes back as tool_calls; the call and its result go back as tool_use and tool_result blocks', async () => {
    anthropic.reset();
    anthropic.replyNext({ content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } }], stopReason: 'tool_use' });
    const { first, final } = await loop(await llm({ type: 'anthropic', baseUrl: anthropic.baseUrl, apiKey: ANTHROPIC_KEY, model: 'claude-sonnet-4-5' }));
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(first.choices[0].message.tool_calls).toEqual([{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }]);
    const second = anthropic.requests[1]!.body;
    expect(second.messages).toEqual([
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '{"celsius":7}' }] },
    ]);
    expect(typeof final.choices[0].message.content).toBe('string');
  });
});
