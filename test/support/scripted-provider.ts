import { Test, type TestingModule } from '@nestjs/testing';
import { IsArray, IsOptional, IsString } from 'class-validator';
import { afterEach } from 'vitest';
import {
  defineEmbeddingProvider,
  defineLLMProvider,
  defineRerankerProvider,
  EmbeddingInstanceConfig,
  LLMInstanceConfig,
  ProvidersModule,
  ProvidersRegistry,
  RerankerInstanceConfig,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionMessageParam,
  type EmbedderDriver,
  type LLMCallOptions,
  type LLMDriver,
  type RerankerDriver,
} from '@hush/providers';

/**
 * Provider types defined only in tests, the way a third party would write one: a config class and a
 * factory. Their drivers record what they were asked and are scripted per instance through `script`.
 */
export class ScriptedLLMConfig extends LLMInstanceConfig {
  @IsString() model!: string;
  /** Label of this deployment, to tell deployments apart. */
  @IsOptional() @IsString() label?: string;
}

export type LLMStep = (messages: ChatCompletionMessageParam[], options: LLMCallOptions) => Promise<string>;

export interface ScriptedLLMDriver extends LLMDriver {
  calls: Array<{ messages: ChatCompletionMessageParam[]; options: LLMCallOptions }>;
  closed: number;
  steps: LLMStep[];
  /** Streams: pieces of text (each a chunk) or whole chunks; a step may throw instead. */
  streamSteps: Array<(options: LLMCallOptions) => AsyncIterable<string | ChatCompletionChunk>>;
}

export function completion(model: string, text: string): ChatCompletion {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

function chunkOf(model: string, text: string): ChatCompletionChunk {
  return { id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] };
}

/** Creates a fresh provider definition and the list of drivers it made, so tests do not share state. */
export function scriptedLLMProvider(type = 'scripted') {
  const drivers = new Map<string, ScriptedLLMDriver>();
  const definition = defineLLMProvider({
    type,
    config: ScriptedLLMConfig,
    description: 'test-only scripted LLM',
    create: (config, context) => {
      const driver: ScriptedLLMDriver = {
        model: config.model,
        calls: [],
        closed: 0,
        steps: [],
        streamSteps: [],
        async generate(messages, options) {
          driver.calls.push({ messages, options });
          const step = driver.steps.shift();
          const text = step ? await step(messages, options) : `${context.name}:${config.label ?? ''}`;
          return completion(config.model, text);
        },
        async *stream(messages, options) {
          driver.calls.push({ messages, options });
          const step = driver.streamSteps.shift();
          const pieces = step
            ? step(options)
            : (async function* () {
                yield `${context.name}`;
              })();
          for await (const piece of pieces) yield typeof piece === 'string' ? chunkOf(config.model, piece) : piece;
        },
        close() {
          driver.closed++;
        },
      };
      drivers.set(`${context.name}${config.label ? `/${config.label}` : ''}`, driver);
      return driver;
    },
  });
  return { definition, drivers };
}

export class ScriptedEmbeddingConfig extends EmbeddingInstanceConfig {
  @IsString() model!: string;
  @IsOptional() @IsArray() @IsString({ each: true }) tags?: string[];
}

export interface ScriptedEmbedder extends EmbedderDriver {
  /** Mutable here, so a test can turn the service's support off. */
  supportsDimensions: boolean;
  batches: string[][];
  dimensionsAsked: Array<number | undefined>;
  closed: number;
  /** Vector length the fake service answers with. */
  answerLength: number;
}

export function scriptedEmbeddingProvider(maxBatchSize = 3) {
  const drivers = new Map<string, ScriptedEmbedder>();
  const definition = defineEmbeddingProvider({
    type: 'scripted',
    config: ScriptedEmbeddingConfig,
    create: (config, context) => {
      const driver: ScriptedEmbedder = {
        model: config.model,
        maxBatchSize,
        supportsDimensions: true,
        batches: [],
        dimensionsAsked: [],
        closed: 0,
        answerLength: config.dimensions ?? 4,
        async embedBatch(texts, options) {
          driver.batches.push(texts);
          driver.dimensionsAsked.push(options.dimensions);
          // Vectors that encode the text's length and first char code, so order can be checked.
          const length = options.dimensions ?? driver.answerLength;
          return {
            embeddings: texts.map((t) => Array.from({ length }, (_, i) => (i === 0 ? t.length : i === 1 ? t.charCodeAt(0) : 0))),
            usage: { promptTokens: texts.length, totalTokens: texts.length },
          };
        },
        close() {
          driver.closed++;
        },
      };
      drivers.set(context.name, driver);
      return driver;
    },
  });
  return { definition, drivers };
}

export class ScriptedRerankerConfig extends RerankerInstanceConfig {
  @IsString() model!: string;
}

export interface ScriptedReranker extends RerankerDriver {
  batches: string[][];
}

/** Scores a document by how many times the query's first word occurs in it. */
export function scriptedRerankerProvider(maxDocuments = 2) {
  const drivers = new Map<string, ScriptedReranker>();
  const definition = defineRerankerProvider({
    type: 'scripted',
    config: ScriptedRerankerConfig,
    create: (config, context) => {
      const driver: ScriptedReranker = {
        model: config.model,
        maxDocuments,
        batches: [],
        async rerankBatch(query, documents) {
          driver.batches.push(documents);
          const word = query.split(' ')[0]!;
          // Answer in reverse order, as services answer sorted: the library must map by index.
          return documents.map((d, index) => ({ index, score: d.split(word).length - 1 })).reverse();
        },
      };
      drivers.set(context.name, driver);
      return driver;
    },
  });
  return { definition, drivers };
}

/**
 * A module with scripted LLMs named as the keys of `llm` (each entry's keys over `type: scripted`
 * and `model: <name>`), closed after each test of the file that calls it.
 */
export function scriptedLLMs() {
  const modules: TestingModule[] = [];
  afterEach(async () => {
    await Promise.all(modules.splice(0).map((m) => m.close()));
  });
  return async (llm: Record<string, Record<string, unknown>>) => {
    const { definition, drivers } = scriptedLLMProvider();
    const config = { llm: Object.fromEntries(Object.entries(llm).map(([name, entry]) => [name, { type: 'scripted', model: name, ...entry }])) };
    const module = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: config as never, providers: [definition] })],
    }).compile();
    module.useLogger(false);
    modules.push(module);
    return { registry: module.get(ProvidersRegistry), drivers };
  };
}
