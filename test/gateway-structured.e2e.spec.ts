import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AnthropicFakeServer } from './fakes/anthropic-fake-server.js';
import { startGateway, type GatewayHarness } from './support/gateway-harness.js';

/**
 * `response_format` and `tools` through the gateway, with the official openai client, on a type
 * that has neither natively in OpenAI's shape (Anthropic): each is mapped to what Anthropic takes,
 * and the answer comes back in OpenAI's shape.
 */

const ANTHROPIC_KEY = 'sk-ant-gateway-structured-0123456789';

let gw: GatewayHarness;
let anthropic: AnthropicFakeServer;
let client: OpenAI;

beforeAll(async () => {
  anthropic = await AnthropicFakeServer.start({ apiKey: ANTHROPIC_KEY });
  gw = await startGateway({
    extra: { llm: { claude: { type: 'anthropic', model: 'claude-sonnet-4-5', apiKey: ANTHROPIC_KEY, baseUrl: anthropic.baseUrl, maxRetries: 0 } } },
  });
  client = new OpenAI({ apiKey: 'unused-without-gateway-keys', baseURL: gw.baseURL, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await anthropic?.close();
});
beforeEach(() => anthropic.reset());

const messages = [{ role: 'user' as const, content: 'Weather in Oslo?' }];
const schema = {
  type: 'object',
  properties: { city: { type: 'string' }, celsius: { type: 'integer' } },
  required: ['city', 'celsius'],
  additionalProperties: false,
};

describe('structured answers and tools through the gateway on anthropic', () => {
  it('response_format json_schema: a forced tool upstream, the object as the message’s JSON text', async () => {
    anthropic.replyNext({ content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo', celsius: 7 } }], stopReason: 'tool_use' });
    const completion = await client.chat.completions.create({
      model: 'claude',
      messages,
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema, strict: true } },
    });
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ city: 'Oslo', celsius: 7 });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(anthropic.lastRequest!.body.tool_choice).toEqual({ type: 'tool', name: 'weather' });
    expect(anthropic.lastRequest!.body.tools[0].input_schema).toEqual(schema);
  });

  it('response_format json_object: any JSON object', async () => {
    anthropic.replyNext({ content: [{ type: 'tool_use', id: 'toolu_1', name: 'json', input: { ok: true } }], stopReason: 'tool_use' });
    const completion = await client.chat.completions.create({ model: 'claude', messages, response_format: { type: 'json_object' } });
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ ok: true });
  });

  it('tools: tool_calls back, and the tool’s result sent on as a tool_result', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: schema } }];
    anthropic.replyNext({ content: [{ type: 'tool_use', id: 'toolu_9', name: 'weather', input: { city: 'Oslo', celsius: 7 } }], stopReason: 'tool_use' });
    const first = await client.chat.completions.create({ model: 'claude', messages, tools });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call).toEqual({ id: 'toolu_9', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo","celsius":7}' } });
    const final = await client.chat.completions.create({
      model: 'claude',
      messages: [...messages, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny' }],
      tools,
    });
    expect(typeof final.choices[0]!.message.content).toBe('string');
    expect(anthropic.lastRequest!.body.messages.at(-1)).toEqual({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'sunny' }] });
  });
});
