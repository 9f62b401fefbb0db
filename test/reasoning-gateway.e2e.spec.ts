import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AnthropicFakeServer } from './fakes/anthropic-fake-server.js';
import { postJson, startGateway, type GatewayHarness } from './support/gateway-harness.js';

const ANTHROPIC_KEY = 'sk-ant-gateway-reasoning-0123456789';
const SIGNATURE = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds';

let gw: GatewayHarness;
let anthropic: AnthropicFakeServer;
let openai: OpenAI;

beforeAll(async () => {
  anthropic = await AnthropicFakeServer.start({ apiKey: ANTHROPIC_KEY });
  gw = await startGateway({
    extra: { llm: { claude: { type: 'anthropic', model: 'claude-sonnet-4-5', apiKey: ANTHROPIC_KEY, baseUrl: anthropic.baseUrl, maxRetries: 0 } } },
  });
  openai = new OpenAI({ apiKey: 'unused-without-gateway-keys', baseURL: gw.baseURL, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await anthropic?.close();
});
beforeEach(() => {
  gw.upstream.reset();
  anthropic.reset();
});

// reasoning_content is not in the openai SDK's types: read it from the raw object.
const raw = (value: unknown): Record<string, unknown> => value as Record<string, unknown>;

describe('reasoning through the gateway, with the official openai client', () => {
  it('passes an openai-compatible upstream reasoning_content (or reasoning) on to the message, with reasoning_tokens', async () => {
    for (const name of ['reasoning_content', 'reasoning']) {
      gw.upstream.enqueue({
        kind: 'mutate',
        json: (answer: any) => {
          answer.choices[0].message[name] = 'Thinking it over.';
          answer.usage.completion_tokens_details = { reasoning_tokens: 3 };
          return answer;
        },
      });
      const completion = await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'low' });
      expect(gw.upstream.lastRequest!.body.reasoning_effort).toBe('low');
      expect(raw(completion.choices[0]!.message).reasoning_content).toBe('Thinking it over.');
      expect(raw(completion.choices[0]!.message)).not.toHaveProperty('reasoning');
      expect(completion.usage!.completion_tokens_details).toEqual({ reasoning_tokens: 3 });
    }
  });

  it('passes streamed reasoning_content deltas on', async () => {
    gw.upstream.enqueue({
      kind: 'mutate',
      sse: (lines: string[]) => {
        const chunk = JSON.parse(lines[0]!);
        chunk.choices[0].delta = { role: 'assistant', reasoning: 'Thinking.' };
        return [JSON.stringify(chunk), ...lines];
      },
    });
    const stream = await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let reasoning = '';
    let content = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      reasoning += (raw(delta).reasoning_content as string | undefined) ?? '';
      content += delta?.content ?? '';
    }
    expect(reasoning).toBe('Thinking.');
    expect(content).toBe('echo: hi');
  });

  it('maps reasoning_effort to Anthropic thinking, and thinking back to reasoning_content, plain and streamed', async () => {
    anthropic.replyNext({
      content: [
        { type: 'thinking', thinking: 'A greeting.', signature: SIGNATURE },
        { type: 'text', text: 'Hello!' },
      ],
    });
    const completion = await openai.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'medium' });
    expect(anthropic.lastRequest!.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 4096 }, max_tokens: 8192 });
    const message = raw(completion.choices[0]!.message);
    expect(message.content).toBe('Hello!');
    expect(message.reasoning_content).toBe('A greeting.');
    expect(message.thinking_blocks).toEqual([{ type: 'thinking', thinking: 'A greeting.', signature: SIGNATURE }]);

    anthropic.replyNext({
      content: [
        { type: 'thinking', thinking: 'A greeting again.', signature: SIGNATURE },
        { type: 'text', text: 'Hello!' },
      ],
    });
    const stream = await openai.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'hi' }],
      reasoning_effort: 'low',
      stream: true,
    });
    let reasoning = '';
    for await (const chunk of stream) reasoning += (raw(chunk.choices[0]?.delta).reasoning_content as string | undefined) ?? '';
    expect(reasoning).toBe('A greeting again.');
  });

  it('carries cache_control on a content part to Anthropic', async () => {
    const res = await postJson(`${gw.baseURL}/chat/completions`, {
      model: 'claude',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Manual.', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
      ],
    });
    expect(res.status).toBe(200);
    expect(anthropic.lastRequest!.body.system).toEqual([{ type: 'text', text: 'Manual.', cache_control: { type: 'ephemeral' } }]);
    expect(anthropic.lastRequest!.body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }]);
  });

  it('refuses an unknown reasoning_effort with a 400 in OpenAI shape, before any upstream call', async () => {
    const res = await postJson(`${gw.baseURL}/chat/completions`, { model: 'claude', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'extreme' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        message: "Invalid value for 'reasoning_effort': reasoning_effort must be one of the following values: none, minimal, low, medium, high, xhigh, max.",
        type: 'invalid_request_error',
        param: 'reasoning_effort',
        code: 'invalid_value',
      },
    });
    expect(anthropic.requests).toHaveLength(0);
  });
});
