import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { ChatOpenAI } from '@langchain/openai';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApp, type GatewayApp } from '../src/app.js';
import { llamaCppLLM } from '../libs/providers/src/providers/llama-cpp/llama-cpp.llm.js';
import { llamaCppEmbedder } from '../libs/providers/src/providers/llama-cpp/llama-cpp.embedder.js';
import { llamaCppReranker } from '../libs/providers/src/providers/llama-cpp/llama-cpp.reranker.js';
import { ensureTinyModels } from './support/llama-models.js';

const defaultConfig = fileURLToPath(new URL('../config/providers.yaml', import.meta.url));

const weather: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Oslo', 'Paris'] } }, required: ['city'], additionalProperties: false },
  },
};

/** Tools through the gateway on the default config (its chat instance is llama-cpp in process), from the openai client and LangChain. */
describe('tools through the gateway on the default local config', () => {
  let app: GatewayApp;
  let baseURL: string;
  let client: OpenAI;

  beforeAll(async () => {
    const tiny = ensureTinyModels();
    app = await createApp(
      {
        providers: {
          configPath: defaultConfig,
          environment: 'development',
          env: {},
          // The tests' tiny models in place of models/*.gguf (everything else as the YAML says).
          config: {
            llm: { chat: { type: 'llama-cpp', model: tiny.chat } },
            embedding: { embed: { type: 'llama-cpp', model: tiny.embedding } },
            reranker: { rerank: { type: 'llama-cpp', model: tiny.reranker } },
          },
          providers: [llamaCppLLM, llamaCppEmbedder, llamaCppReranker],
        },
        apiKeys: [],
      },
      { logger: false, forceCloseConnections: true },
    );
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    baseURL = `http://127.0.0.1:${port}/v1`;
    client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  it('the openai client: tools + tool_choice required give tool_calls; the tool message back gives a final answer', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Oslo?' }];
    const first = await client.chat.completions.create({ model: 'chat', messages, tools: [weather], tool_choice: 'required', max_tokens: 60, seed: 4 });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const call = choice.message.tool_calls![0]!;
    expect(call.id).toMatch(/^call_/);
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expect(['Oslo', 'Paris']).toContain((JSON.parse(call.function.arguments) as { city: string }).city);

    messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: '{"celsius":-3}' });
    const final = await client.chat.completions.create({ model: 'chat', messages, tools: [weather], tool_choice: 'none', max_tokens: 6, seed: 4 });
    expect(final.choices[0]!.message.tool_calls).toBeUndefined();
    expect(final.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(final.choices[0]!.finish_reason).toBe('length');
  });

  it('the openai client: a streamed tool call assembles into id, name and JSON arguments', async () => {
    const stream = await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      tools: [weather],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 60,
      seed: 4,
      stream: true,
    });
    let id = '';
    let name = '';
    let args = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
        expect(d.index).toBe(0);
        id += d.id ?? '';
        name += d.function?.name ?? '';
        args += d.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(id).toMatch(/^call_/);
    expect(name).toBe('get_weather');
    expect(['Oslo', 'Paris']).toContain((JSON.parse(args) as { city: string }).city);
    expect(finish).toBe('tool_calls');
  });

  it('the gateway refuses a malformed tool with 400 before it reaches the model', async () => {
    const err = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: {} } as never] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });

  describe('LangChain ChatOpenAI pointed at the gateway', () => {
    const chat = () => new ChatOpenAI({ model: 'chat', apiKey: 'unused', configuration: { baseURL }, maxRetries: 0, maxTokens: 60, temperature: 0 });
    const getWeather = { name: 'get_weather', description: 'The weather in a city', schema: z.object({ city: z.enum(['Oslo', 'Paris']) }) };

    it('bindTools with a forced tool_choice gives tool calls, and a ToolMessage back gives a final answer', async () => {
      const model = chat().bindTools([getWeather], { tool_choice: 'get_weather' });
      const question = new HumanMessage('Weather in Oslo?');
      const answer = await model.invoke([question]);
      expect(answer.tool_calls).toHaveLength(1);
      const call = answer.tool_calls![0]!;
      expect(call.name).toBe('get_weather');
      expect(call.id).toMatch(/^call_/);
      expect(['Oslo', 'Paris']).toContain(call.args.city);

      const any = await chat().bindTools([getWeather], { tool_choice: 'any' }).invoke([question]);
      expect(any.tool_calls![0]!.name).toBe('get_weather');

      const final = await chat()
        .bindTools([getWeather], { tool_choice: 'none' })
        .invoke([
          question,
          new AIMessage({ content: '', tool_calls: answer.tool_calls }),
          new ToolMessage({ tool_call_id: call.id!, content: '{"celsius":-3}' }),
        ]);
      expect(final.tool_calls ?? []).toEqual([]);
      expect(typeof final.content).toBe('string');
      expect((final.content as string).length).toBeGreaterThan(0);
    });

    it('streams bindTools tool calls into one call', async () => {
      const model = chat().bindTools([getWeather], { tool_choice: 'get_weather' });
      let merged: Awaited<ReturnType<typeof model.invoke>> | undefined;
      for await (const chunk of await model.stream('Weather in Oslo?')) merged = merged ? merged.concat(chunk) : chunk;
      expect(merged!.tool_calls).toHaveLength(1);
      expect(merged!.tool_calls![0]!.name).toBe('get_weather');
      expect(['Oslo', 'Paris']).toContain(merged!.tool_calls![0]!.args.city);
    });

    const Verdict = z.object({ label: z.enum(['spam', 'ham']), urgent: z.boolean() });

    it.each(['jsonSchema', 'functionCalling', undefined] as const)('withStructuredOutput (method %s) returns a parsed object', async (method) => {
      const structured = chat().withStructuredOutput(Verdict, { name: 'Verdict', ...(method ? { method } : {}) });
      const verdict = await structured.invoke('Classify: "WIN A FREE PRIZE NOW"');
      expect(Verdict.parse(verdict)).toEqual(verdict);
      expect(Object.keys(verdict).sort()).toEqual(['label', 'urgent']);
    });

    it('withStructuredOutput from a JSON schema returns a parsed object', async () => {
      const schema = {
        title: 'Verdict',
        type: 'object',
        properties: { label: { type: 'string', enum: ['spam', 'ham'] } },
        required: ['label'],
        additionalProperties: false,
      };
      const verdict = (await chat().withStructuredOutput(schema, { method: 'jsonSchema' }).invoke('Classify: "hello"')) as { label: string };
      expect(['spam', 'ham']).toContain(verdict.label);
    });
  });
});
