import { randomUUID } from 'node:crypto';
import type {
  ChatHistoryItem,
  ChatModelFunctions,
  ChatWrapper,
  LlamaChat,
  LlamaChatResponse,
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
  tools: ToolPlan;
  includeUsage: boolean;
}

/**
 * How a call's tools are asked for. `auto` offers them through the chat wrapper's own function
 * calling (the model may answer text or call them, several at once where the wrapper can). node-llama-cpp
 * has no way to force a call there, so `required` and a named function are a grammar instead: one
 * named function's grammar is its parameters (the text is the arguments); several are one JSON object
 * `{ name, arguments }` whose shape is one of the functions'.
 */
type ToolPlan =
  | { mode: 'none' }
  | { mode: 'auto'; functions: Record<string, { description?: string; params?: unknown }>; parallel: boolean }
  | { mode: 'forced'; name?: string; schema: unknown };

interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

interface Outcome {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
}

interface FunctionTool {
  name: string;
  description?: string;
  parameters?: unknown;
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
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: outcome.toolCalls.length > 0 && !outcome.text ? null : outcome.text,
            refusal: null,
            ...(outcome.toolCalls.length > 0
              ? { tool_calls: outcome.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) }
              : {}),
          },
          finish_reason: outcome.finishReason,
          logprobs: null,
        },
      ],
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
    type Delta = ChatCompletionChunk['choices'][number]['delta'];
    const { controller, unlink } = linkedController(options.signal);
    const plan = prepared.tools;
    // A single forced function's text is its arguments: they stream as they come, under one id.
    const forcedName = plan.mode === 'forced' ? plan.name : undefined;
    const forcedId = forcedName ? toolCallId() : undefined;
    const pieces: Delta[] = [];
    if (forcedName) pieces.push({ tool_calls: [{ index: 0, id: forcedId, type: 'function', function: { name: forcedName, arguments: '' } }] });
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
      if (forcedName) pieces.push({ tool_calls: [{ index: 0, function: { arguments: text } }] });
      // Several forced functions: the text is the { name, arguments } wrapper, sent once parsed.
      else if (plan.mode === 'forced') return;
      else pieces.push({ content: text });
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
        const delta = pieces.shift();
        if (delta !== undefined) {
          yield chunk([{ index: 0, delta, finish_reason: null, logprobs: null }]);
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
      if (!forcedName) {
        if (plan.mode === 'forced' && result.toolCalls.length === 0 && result.text) {
          yield chunk([{ index: 0, delta: { content: result.text }, finish_reason: null, logprobs: null }]);
        }
        // Calls chosen by the model are known once generation stops: each goes out as its id and name, then its arguments.
        for (const [index, call] of result.toolCalls.entries()) {
          const header: Delta = { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] };
          yield chunk([{ index: 0, delta: header, finish_reason: null, logprobs: null }]);
          yield chunk([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: call.arguments } }] }, finish_reason: null, logprobs: null }]);
        }
      }
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
    if (o.logprobs) throw badInput(this.site, 'logprobs are not supported by the llama-cpp type.', 'unsupported');
    const tools = o.tools === undefined || o.tools === null ? [] : toolsOf(o.tools, this.site);
    const plan = toolPlanOf(tools, o.tool_choice, o.parallel_tool_calls, this.site);
    if (plan.mode === 'forced') {
      // The grammar makes the shape; this tells the model what it is filling in.
      const named = plan.name ? tools.filter((t) => t.name === plan.name) : tools;
      const instruction = plan.name
        ? `Call the function ${plan.name}: answer with its arguments only, as one JSON object.`
        : 'Call one of these functions: answer with one JSON object { "name": <function name>, "arguments": <its arguments> }.';
      const listing = named
        .map((t) => `- ${t.name}${t.description ? `: ${t.description}` : ''}\n  parameters: ${JSON.stringify(t.parameters ?? {})}`)
        .join('\n');
      history.unshift({ type: 'system', text: `${instruction}\n${listing}` });
    }

    let promptTokens: number;
    try {
      const state = this.chatWrapper.generateContextState({
        chatHistory: history as ChatHistoryItem[],
        ...(plan.mode === 'auto' ? { availableFunctions: plan.functions as ChatModelFunctions, documentFunctionParams: true } : {}),
      });
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
    // Both are asked through the sampler (a grammar, or the wrapper's function calling), which takes one at a time.
    if (responseFormat && plan.mode !== 'none') {
      throw badInput(this.site, 'response_format cannot be combined with tools on the llama-cpp type (unless tool_choice is "none").', 'unsupported');
    }

    return {
      history: history as ChatHistoryItem[],
      promptTokens,
      responseFormat,
      tools: plan,
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
        const plan = prepared.tools;
        const grammar = plan.mode === 'forced' ? await this.toolGrammar(plan.schema) : await this.grammarFor(prepared.responseFormat);
        chat = new this.lease.mod.LlamaChat({ contextSequence: sequence, chatWrapper: this.chatWrapper, autoDisposeSequence: false });
        const before = sequence.tokenMeter.usedOutputTokens;
        const common = { ...prepared.generate, signal, stopOnAbortSignal: false, onTextChunk: onText };
        const response: LlamaChatResponse<ChatModelFunctions> =
          plan.mode === 'auto'
            ? await chat.generateResponse(prepared.history, {
                ...common,
                functions: plan.functions as ChatModelFunctions,
                documentFunctionParams: true,
                ...(plan.parallel ? {} : { maxParallelFunctionCalls: 1 }),
              })
            : await chat.generateResponse(prepared.history, { ...common, ...(grammar ? { grammar } : {}) });
        if (signal.aborted) throw abortErrorOf(signal);
        const completionTokens = sequence.tokenMeter.usedOutputTokens - before;
        const reason = response.metadata.stopReason;
        let text = response.response;
        let toolCalls: ToolCall[] = (response.functionCalls ?? []).map((call) => ({
          id: toolCallId(),
          name: call.functionName,
          arguments: JSON.stringify(call.params ?? {}),
        }));
        if (plan.mode === 'forced') {
          if (plan.name) {
            // The text is the arguments as generated (a stream sends the same text), cut short only at max_tokens.
            toolCalls = [{ id: toolCallId(), name: plan.name, arguments: text }];
            text = '';
          } else {
            const call = parseForcedCall(text);
            if (call) {
              toolCalls = [{ id: toolCallId(), ...call }];
              text = '';
            }
          }
        }
        return {
          text,
          toolCalls,
          finishReason: reason === 'maxTokens' ? 'length' : toolCalls.length > 0 ? 'tool_calls' : 'stop',
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

  private async toolGrammar(schema: unknown): Promise<LlamaGrammar> {
    try {
      return await this.lease.llama.createGrammarForJsonSchema(schema as never);
    } catch (err) {
      throw badInput(
        this.site,
        `the tool's parameters are not supported by llama-cpp's grammar: ${err instanceof Error ? err.message : String(err)}`,
        'unsupported',
      );
    }
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

function toolCallId(): string {
  return `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
}

/** The `{ name, arguments }` object a grammar over several functions made, or undefined when cut short. */
function parseForcedCall(text: string): { name: string; arguments: string } | undefined {
  try {
    const parsed = JSON.parse(text) as { name?: unknown; arguments?: unknown };
    if (typeof parsed.name !== 'string') return undefined;
    // The arguments' own text (the grammar writes name first): re-serialising would turn a long integer into null.
    const raw = /"arguments"\s*:\s*([\s\S]*)\}\s*$/.exec(text)?.[1]?.trim();
    return { name: parsed.name, arguments: raw ?? JSON.stringify(parsed.arguments ?? {}) };
  } catch {
    return undefined;
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

/** A function call in a model turn, with the result the tool message gave it. */
export type LlamaCppFunctionCallItem = { type: 'functionCall'; name: string; params: unknown; result: unknown };

/** node-llama-cpp's ChatHistoryItem (declared here so that no public type names node-llama-cpp). */
export type LlamaCppHistoryItem =
  { type: 'system'; text: string } | { type: 'user'; text: string } | { type: 'model'; response: Array<string | LlamaCppFunctionCallItem> };

/**
 * OpenAI messages → node-llama-cpp's chat history. An assistant turn's tool calls become function
 * calls in its model turn, each with the result of the `tool` message that answers its id (the chat
 * wrapper renders a call and its result together). Images and audio are refused.
 */
export function toChatHistory(messages: ChatCompletionMessageParam[], site: LlamaCppSite): LlamaCppHistoryItem[] {
  if (!Array.isArray(messages) || messages.length === 0) throw badInput(site, 'messages must be a non-empty array.');
  const history: LlamaCppHistoryItem[] = [];
  // The calls of the last assistant turn still waiting for their tool message, by id.
  let open = new Map<string, { call: LlamaCppFunctionCallItem; answered: boolean }>();
  const closeTurn = () => {
    const missing = [...open].filter(([, c]) => !c.answered).map(([id]) => id);
    if (missing.length > 0) {
      throw badInput(
        site,
        `an assistant message with tool_calls must be followed by tool messages answering each tool_call_id; not answered: ${missing.join(', ')}.`,
      );
    }
    open = new Map();
  };
  messages.forEach((message, index) => {
    const where = `messages[${index}]`;
    if (typeof message !== 'object' || message === null) throw badInput(site, `${where} is not a message object.`);
    const role = (message as { role?: unknown }).role;
    if (role === 'tool') {
      const id = (message as { tool_call_id?: unknown }).tool_call_id;
      if (typeof id !== 'string' || !id) throw badInput(site, `${where} (tool) has no tool_call_id.`);
      const pending = open.get(id);
      if (!pending) throw badInput(site, `${where} (tool) answers tool_call_id "${id}", which no tool call of the assistant message before it has.`);
      pending.call.result = resultOf(textOf(message.content, where, site));
      pending.answered = true;
      return;
    }
    closeTurn();
    const text = textOf(message.content, where, site);
    switch (role) {
      case 'system':
      case 'developer':
        history.push({ type: 'system', text });
        return;
      case 'user':
        history.push({ type: 'user', text });
        return;
      case 'assistant': {
        const response: Array<string | LlamaCppFunctionCallItem> = [text];
        const calls = (message as { tool_calls?: unknown }).tool_calls;
        if (calls !== undefined && calls !== null && !Array.isArray(calls)) throw badInput(site, `${where}.tool_calls must be an array of tool calls.`);
        for (const [c, call] of (calls ?? []).entries()) {
          const at = `${where}.tool_calls[${c}]`;
          const fn = isRecord(call) && call.type === 'function' && isRecord(call.function) ? call.function : undefined;
          if (!fn || typeof call.id !== 'string' || !call.id || typeof fn.name !== 'string' || !fn.name) {
            throw badInput(site, `${at} is not a function tool call ({ id, type: "function", function: { name, arguments } }).`);
          }
          const item: LlamaCppFunctionCallItem = { type: 'functionCall', name: fn.name, params: argumentsOf(fn.arguments, at, site), result: undefined };
          open.set(call.id, { call: item, answered: false });
          response.push(item);
        }
        history.push({ type: 'model', response });
        return;
      }
      default:
        throw badInput(site, `${where} has role "${String(role)}": llama-cpp takes system, developer, user, assistant and tool messages.`, 'unsupported');
    }
  });
  closeTurn();
  return history;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function argumentsOf(args: unknown, where: string, site: LlamaCppSite): unknown {
  if (args === undefined || args === null || args === '') return undefined;
  if (typeof args !== 'string') throw badInput(site, `${where}.function.arguments must be a JSON string.`);
  try {
    return JSON.parse(args);
  } catch {
    throw badInput(site, `${where}.function.arguments is not valid JSON.`);
  }
}

/** A tool's answer as the wrapper shows it: JSON stays JSON, other text stays text. */
function resultOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** OpenAI's `tools` as function definitions; anything but a named function tool is refused. */
export function toolsOf(tools: unknown, site: LlamaCppSite): FunctionTool[] {
  if (!Array.isArray(tools)) throw badInput(site, 'tools must be an array of tools.');
  const seen = new Set<string>();
  return tools.map((tool: unknown, t): FunctionTool => {
    const fn = isRecord(tool) && tool.type === 'function' && isRecord(tool.function) ? tool.function : undefined;
    if (!fn || typeof fn.name !== 'string' || !fn.name) {
      throw badInput(site, `tools[${t}] is not a function tool ({ type: "function", function: { name, description?, parameters? } }).`);
    }
    if (seen.has(fn.name)) throw badInput(site, `tools[${t}] repeats the function name "${fn.name}".`);
    seen.add(fn.name);
    if (fn.parameters !== undefined && fn.parameters !== null && !isRecord(fn.parameters)) {
      throw badInput(site, `tools[${t}].function.parameters must be a JSON Schema object.`);
    }
    return {
      name: fn.name,
      ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
      ...(isRecord(fn.parameters) ? { parameters: fn.parameters } : {}),
    };
  });
}

/** What `tool_choice` (and `parallel_tool_calls`) ask of the given tools. */
export function toolPlanOf(tools: FunctionTool[], choice: unknown, parallel: unknown, site: LlamaCppSite): ToolPlan {
  if (choice === 'none' || tools.length === 0) {
    if (isRecord(choice) || choice === 'required') throw badInput(site, `tool_choice ${JSON.stringify(choice)} needs tools.`);
    return { mode: 'none' };
  }
  const paramsOf = (tool: FunctionTool): unknown => (tool.parameters ? grammarSchema(withoutAnnotations(tool.parameters)) : undefined);
  if (choice === undefined || choice === null || choice === 'auto') {
    return {
      mode: 'auto',
      functions: Object.fromEntries(
        tools.map((tool) => [tool.name, { ...(tool.description ? { description: tool.description } : {}), params: paramsOf(tool) }]),
      ),
      parallel: parallel !== false,
    };
  }
  const argumentsSchema = (tool: FunctionTool) => paramsOf(tool) ?? { type: 'object', properties: {} };
  if (choice === 'required') {
    if (tools.length === 1) return { mode: 'forced', name: tools[0]!.name, schema: argumentsSchema(tools[0]!) };
    return {
      mode: 'forced',
      schema: {
        oneOf: tools.map((tool) => ({
          type: 'object',
          properties: { name: { const: tool.name }, arguments: argumentsSchema(tool) },
          required: ['name', 'arguments'],
        })),
      },
    };
  }
  if (isRecord(choice) && choice.type === 'function' && isRecord(choice.function) && typeof choice.function.name === 'string') {
    const name = choice.function.name;
    const tool = tools.find((t) => t.name === name);
    if (!tool) throw badInput(site, `tool_choice names the function "${name}", which is not in tools.`);
    return { mode: 'forced', name, schema: argumentsSchema(tool) };
  }
  throw badInput(site, `tool_choice must be "none", "auto", "required" or { type: "function", function: { name } }; got ${JSON.stringify(choice)}.`);
}

/** Keys of a JSON Schema that describe it but do not shape the value (the grammar has no use for them). */
function withoutAnnotations(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutAnnotations);
  if (!isRecord(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema' || key === 'title' || key === 'default' || key === 'examples') continue;
    out[key] =
      key === 'properties' && isRecord(value)
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutAnnotations(v)]))
        : withoutAnnotations(value);
  }
  return out;
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
