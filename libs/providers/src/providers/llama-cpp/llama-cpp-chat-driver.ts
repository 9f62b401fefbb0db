import { randomUUID } from 'node:crypto';
import type {
  ChatHistoryItem,
  ChatWrapper,
  LlamaChat,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammar,
  LLamaChatGenerateResponseOptions,
} from 'node-llama-cpp';
import type { DriverContext } from '../../core/provider-definition.js';
import { abortErrorOf, linkedController } from '../../core/abort.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam, LLMCallOptions, LLMDriver } from '../../core/llm.js';
import { badInput, LLAMA_CPP_DEFAULT_MAX_TOKENS, LLAMA_CPP_SAMPLING_DEFAULTS, toLlamaCppError, type LlamaCppSite } from './llama-cpp-config.js';
import { contextSizeOf, leaseModel, threadsOf, type ModelLease } from './llama-cpp-runtime.js';
import { LlamaCppDriver } from './llama-cpp-driver.js';

import type { LlamaCppLLMConfig } from './llama-cpp-config.js';

const DEFAULT_CONTEXT_CAP = 4096;

type Usage = NonNullable<ChatCompletion['usage']>;
type FinishReason = ChatCompletion['choices'][number]['finish_reason'];

interface Prepared {
  history: ChatHistoryItem[];
  promptTokens: number;
  generate: Omit<
    LLamaChatGenerateResponseOptions,
    'signal' | 'onTextChunk' | 'functions' | 'grammar' | 'onFunctionCall' | 'onFunctionCallParamsChunk' | 'documentFunctionParams' | 'maxParallelFunctionCalls'
  >;
  responseFormat?: { type: 'json_object' } | { type: 'json_schema'; schema: unknown };
  includeUsage: boolean;
}

interface Outcome {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
}

// Options a loose caller (or YAML params) may send that are llama.cpp's, not OpenAI's.
type LooseOptions = LLMCallOptions & { top_k?: unknown; min_p?: unknown; repeat_penalty?: unknown };

/**
 * One chat model in process. Each call is stateless: it takes a free sequence of the context (or
 * waits for one), clears it, renders the whole message list through the model's chat template, and
 * generates; the sequence goes back to the pool when generation has stopped.
 */
export class LlamaCppChatDriver extends LlamaCppDriver<LlamaContextSequence> implements LLMDriver {
  readonly model: string;
  readonly contextSize: number;
  /** A JSON-schema response_format becomes a grammar the sampler follows. */
  readonly structuredOutput = 'grammar';
  private jsonGrammar?: Promise<LlamaGrammar>;

  private constructor(
    config: LlamaCppLLMConfig,
    context: DriverContext,
    lease: ModelLease,
    private readonly llamaContext: LlamaContext,
    private readonly chatWrapper: ChatWrapper,
    sequences: LlamaContextSequence[],
    private readonly defaultMaxTokens: number,
  ) {
    super(context, lease, sequences);
    this.model = config.model;
    this.contextSize = llamaContext.contextSize;
  }

  static async create(config: LlamaCppLLMConfig, context: DriverContext): Promise<LlamaCppChatDriver> {
    const lease = await leaseModel(config, context);
    let llamaContext: LlamaContext | undefined;
    try {
      const sequences = config.sequences ?? 1;
      llamaContext = await lease.model.createContext({
        contextSize: contextSizeOf(config, lease, DEFAULT_CONTEXT_CAP),
        sequences,
        threads: threadsOf(config, lease),
      });
      const all = Array.from({ length: sequences }, () => llamaContext!.getSequence());
      // The chat wrapper is resolved once, from the model's own chat template.
      const probe: LlamaChat = new lease.mod.LlamaChat({ contextSequence: all[0]!, autoDisposeSequence: false });
      const chatWrapper = probe.chatWrapper;
      probe.dispose({ disposeSequence: false });
      return new LlamaCppChatDriver(config, context, lease, llamaContext, chatWrapper, all, config.maxTokens ?? LLAMA_CPP_DEFAULT_MAX_TOKENS);
    } catch (err) {
      await llamaContext?.dispose().catch(() => undefined);
      await lease.release();
      throw err;
    }
  }

  async generate(messages: ChatCompletionMessageParam[], options: LLMCallOptions): Promise<ChatCompletion> {
    const { signal } = options;
    const prepared = this.prepare(messages, options);
    const outcome = await this.run(prepared, signal);
    return {
      id: `chatcmpl-${randomUUID()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: this.model,
      choices: [{ index: 0, message: { role: 'assistant', content: outcome.text, refusal: null }, finish_reason: outcome.finishReason, logprobs: null }],
      usage: outcome.usage,
    };
  }

  async *stream(messages: ChatCompletionMessageParam[], options: LLMCallOptions): AsyncGenerator<ChatCompletionChunk> {
    const prepared = this.prepare(messages, options);
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (choices: ChatCompletionChunk['choices'], usage?: Usage): ChatCompletionChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: this.model,
      choices,
      ...(usage ? { usage } : {}),
    });

    // Text arrives through a callback while generation runs; the generator hands it out as it comes.
    const { controller, unlink } = linkedController(options.signal);
    const pieces: string[] = [];
    let settled = false;
    let outcome: Outcome | undefined;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    controller.signal.addEventListener('abort', poke);
    const running = this.run(prepared, controller.signal, (text) => {
      if (!text) return;
      pieces.push(text);
      poke();
    }).then(
      (result) => {
        outcome = result;
      },
      (err: unknown) => {
        failure = err;
      },
    );
    void running.finally(() => {
      settled = true;
      poke();
    });

    try {
      yield chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]);
      for (;;) {
        const text = pieces.shift();
        if (text !== undefined) {
          yield chunk([{ index: 0, delta: { content: text }, finish_reason: null, logprobs: null }]);
          continue;
        }
        if (settled) break;
        if (controller.signal.aborted) throw abortErrorOf(controller.signal);
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      if (failure !== undefined) throw failure;
      const result = outcome!;
      yield chunk([{ index: 0, delta: {}, finish_reason: result.finishReason, logprobs: null }]);
      if (prepared.includeUsage) yield chunk([], result.usage);
    } finally {
      // A consumer that stops early (break, abort) stops generation; the sequence is freed when it has.
      controller.abort();
      controller.signal.removeEventListener('abort', poke);
      unlink();
    }
  }

  protected disposeSlots(): Promise<unknown> {
    return this.llamaContext.dispose();
  }

  private prepare(messages: ChatCompletionMessageParam[], options: LLMCallOptions): Prepared {
    this.ensureOpen();
    const o = options as LooseOptions;
    const history = toChatHistory(messages, this.site);
    if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });

    if (o.n !== undefined && o.n !== null && o.n !== 1) throw badInput(this.site, `n=${o.n} is not supported: llama-cpp answers one choice per call.`);
    if (o.tools && o.tools.length > 0)
      throw badInput(
        this.site,
        'tools are not supported by the llama-cpp type yet; use a server type (openai-compatible with llama-server --jinja) for tool calls.',
        'unsupported',
      );
    if (o.logprobs) throw badInput(this.site, 'logprobs are not supported by the llama-cpp type.', 'unsupported');

    let promptTokens: number;
    try {
      const state = this.chatWrapper.generateContextState({ chatHistory: history });
      promptTokens = state.contextText.tokenize(this.lease.model.tokenizer).length;
    } catch (err) {
      throw badInput(this.site, `the messages could not be rendered through the model's chat template: ${err instanceof Error ? err.message : String(err)}`);
    }
    const room = this.contextSize - promptTokens;
    if (room < 1) {
      throw badInput(
        this.site,
        `the prompt is ${promptTokens} tokens; the context holds ${this.contextSize}. Shorten the messages, or raise contextSize.`,
        'context-length',
      );
    }
    const asked = o.max_completion_tokens ?? o.max_tokens ?? undefined;
    if (asked !== undefined && asked !== null && !(Number.isInteger(asked) && asked >= 1)) {
      throw badInput(this.site, `max_tokens must be a whole number ≥ 1; got ${String(asked)}.`);
    }
    const maxTokens = Math.min(asked ?? this.defaultMaxTokens, room);

    const num = (value: unknown, name: string, min: number, max: number): number | undefined => {
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
        throw badInput(this.site, `${name} must be a number from ${min} to ${max}; got ${String(value)}.`);
      }
      return value;
    };
    const temperature = num(o.temperature, 'temperature', 0, 2) ?? LLAMA_CPP_SAMPLING_DEFAULTS.temperature;
    const topP = num(o.top_p, 'top_p', 0, 1) ?? LLAMA_CPP_SAMPLING_DEFAULTS.top_p;
    const topK = num(o.top_k, 'top_k', 0, 1_000_000) ?? LLAMA_CPP_SAMPLING_DEFAULTS.top_k;
    const minP = num(o.min_p, 'min_p', 0, 1) ?? LLAMA_CPP_SAMPLING_DEFAULTS.min_p;
    const seed = num(o.seed, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const presencePenalty = num(o.presence_penalty, 'presence_penalty', -2, 2);
    const frequencyPenalty = num(o.frequency_penalty, 'frequency_penalty', -2, 2);
    const repeatPenalty = num(o.repeat_penalty, 'repeat_penalty', 0, 10);

    const stop = o.stop === undefined || o.stop === null ? [] : typeof o.stop === 'string' ? [o.stop] : o.stop;
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string')) throw badInput(this.site, 'stop must be a string or an array of strings.');
    const stops = stop.filter((s) => s.length > 0);

    let responseFormat: Prepared['responseFormat'];
    const format = o.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
    if (format && format.type === 'json_object') responseFormat = { type: 'json_object' };
    else if (format && format.type === 'json_schema') {
      if (!format.json_schema?.schema) throw badInput(this.site, 'response_format json_schema needs json_schema.schema.');
      responseFormat = { type: 'json_schema', schema: format.json_schema.schema };
    } else if (format && format.type !== 'text') throw badInput(this.site, `response_format type ${String(format.type)} is not supported.`);

    return {
      history,
      promptTokens,
      responseFormat,
      includeUsage: o.stream_options?.include_usage !== false,
      generate: {
        maxTokens,
        temperature,
        topP,
        topK,
        minP,
        ...(seed !== undefined ? { seed: Math.trunc(seed) } : {}),
        ...(stops.length > 0 ? { customStopTriggers: stops } : {}),
        ...(presencePenalty !== undefined || frequencyPenalty !== undefined || repeatPenalty !== undefined
          ? { repeatPenalty: { penalty: repeatPenalty ?? 1, presencePenalty, frequencyPenalty } }
          : {}),
      },
    };
  }

  /** Takes a sequence, generates, and gives the sequence back once generation has really stopped. */
  private run(prepared: Prepared, callerSignal: AbortSignal, onText?: (text: string) => void): Promise<Outcome> {
    const { controller, unlink } = linkedController(callerSignal, this.shutdown.signal);
    const signal = controller.signal;
    const work = this.pool.use(signal, async (sequence) => {
      let chat: LlamaChat | undefined;
      try {
        await sequence.clearHistory();
        const grammar = await this.grammarFor(prepared.responseFormat);
        chat = new this.lease.mod.LlamaChat({ contextSequence: sequence, chatWrapper: this.chatWrapper, autoDisposeSequence: false });
        const before = sequence.tokenMeter.usedOutputTokens;
        const response = await chat.generateResponse(prepared.history, {
          ...prepared.generate,
          ...(grammar ? { grammar } : {}),
          signal,
          stopOnAbortSignal: false,
          onTextChunk: onText,
        });
        if (signal.aborted) throw abortErrorOf(signal);
        const completionTokens = sequence.tokenMeter.usedOutputTokens - before;
        const reason = response.metadata.stopReason;
        return {
          text: response.response,
          finishReason: reason === 'maxTokens' ? 'length' : reason === 'functionCalls' ? 'tool_calls' : 'stop',
          usage: { prompt_tokens: prepared.promptTokens, completion_tokens: completionTokens, total_tokens: prepared.promptTokens + completionTokens },
        } satisfies Outcome;
      } catch (err) {
        throw toLlamaCppError(err, this.site, signal);
      } finally {
        chat?.dispose({ disposeSequence: false });
      }
    });
    void work.catch(() => undefined).finally(unlink);
    return this.track(work);
  }

  private async grammarFor(format: Prepared['responseFormat']): Promise<LlamaGrammar | undefined> {
    if (!format) return undefined;
    if (format.type === 'json_object') {
      this.jsonGrammar ??= this.lease.llama.getGrammarFor('json');
      return this.jsonGrammar;
    }
    try {
      return await this.lease.llama.createGrammarForJsonSchema(grammarSchema(format.schema) as never);
    } catch (err) {
      throw badInput(
        this.site,
        `response_format json_schema is not supported by llama-cpp's grammar: ${err instanceof Error ? err.message : String(err)}`,
        'unsupported',
      );
    }
  }
}

/**
 * A JSON Schema in the form node-llama-cpp's grammar takes: `anyOf` is read as `oneOf` (the
 * grammar has only the latter, and for a grammar they mean the same).
 */
export function grammarSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(grammarSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key === 'anyOf' && !('oneOf' in schema) ? 'oneOf' : key] = grammarSchema(value);
  return out;
}

/** node-llama-cpp's ChatHistoryItem, text only (declared here so that no public type names node-llama-cpp). */
export type LlamaCppHistoryItem = { type: 'system'; text: string } | { type: 'user'; text: string } | { type: 'model'; response: string[] };

/** OpenAI messages → node-llama-cpp's chat history. Text only: images, audio and tool messages are refused. */
export function toChatHistory(messages: ChatCompletionMessageParam[], site: LlamaCppSite): LlamaCppHistoryItem[] {
  if (!Array.isArray(messages) || messages.length === 0) throw badInput(site, 'messages must be a non-empty array.');
  return messages.map((message, index): LlamaCppHistoryItem => {
    const where = `messages[${index}]`;
    if (typeof message !== 'object' || message === null) throw badInput(site, `${where} is not a message object.`);
    const text = textOf(message.content, where, site);
    switch (message.role) {
      case 'system':
      case 'developer':
        return { type: 'system', text };
      case 'user':
        return { type: 'user', text };
      case 'assistant':
        if (message.tool_calls && message.tool_calls.length > 0)
          throw badInput(site, `${where} has tool_calls: tools are not supported by the llama-cpp type yet.`, 'unsupported');
        return { type: 'model', response: [text] };
      default:
        throw badInput(
          site,
          `${where} has role "${String((message as { role?: unknown }).role)}": llama-cpp takes system, developer, user and assistant messages.`,
          'unsupported',
        );
    }
  });
}

function textOf(content: unknown, where: string, site: LlamaCppSite): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, i) => {
        const p = part as { type?: unknown; text?: unknown; refusal?: unknown };
        if (p?.type === 'text' && typeof p.text === 'string') return p.text;
        if (p?.type === 'refusal' && typeof p.refusal === 'string') return p.refusal;
        throw badInput(site, `${where}.content[${i}] is a ${String(p?.type)} part: llama-cpp takes text only.`, 'unsupported');
      })
      .join('');
  }
  throw badInput(site, `${where}.content must be a string or an array of text parts.`);
}
