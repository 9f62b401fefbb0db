import type { CompletionUsage } from 'openai/resources/completions';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam } from '../../core/llm.js';

/**
 * OpenAI chat shapes to Anthropic's Messages API and back. Pure functions: the driver sends and
 * receives, and turns a `MappingError` into a ProviderError (`bad-input` for requests, `bad-response`
 * for answers).
 */

export class MappingError extends Error {
  constructor(
    readonly side: 'request' | 'response',
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;
type Block = Json & { type: string };
interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | Block[];
}

export interface AnthropicRequestDefaults {
  model: string;
  /** `max_tokens` when the call gives neither max_tokens nor max_completion_tokens. */
  maxTokens: number;
}

const isJson = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const requestError = (message: string) => new MappingError('request', message);
const responseError = (message: string) => new MappingError('response', message);

/**
 * The Messages API body for OpenAI messages and call options. Parameters Anthropic has no
 * equivalent for (seed, penalties, logprobs, ...) are not sent; those whose absence would change
 * the answer's shape (`n` > 1, a JSON `response_format`) are refused.
 */
export function toAnthropicRequest(messages: ChatCompletionMessageParam[], options: Json, defaults: AnthropicRequestDefaults): Json {
  const { system, turns } = mapMessages(messages);
  const thinking = thinkingOf(options);
  const body: Json = { model: defaults.model, max_tokens: maxTokensOf(options, defaults.maxTokens, thinking), messages: turns };
  if (system) body.system = system;
  if (thinking) body.thinking = thinking;
  if (typeof options.temperature === 'number') body.temperature = options.temperature;
  if (typeof options.top_p === 'number') body.top_p = options.top_p;
  // Anthropic's own sampling knob, for YAML `params`.
  if (typeof options.top_k === 'number') body.top_k = options.top_k;
  const stop = options.stop;
  if (typeof stop === 'string') body.stop_sequences = [stop];
  else if (Array.isArray(stop) && stop.length > 0) body.stop_sequences = stop;
  if (Array.isArray(options.tools) && options.tools.length > 0) body.tools = options.tools.map(mapTool);
  // parallel_tool_calls alone means nothing without tools (and Anthropic refuses a tool_choice then).
  const toolChoice = mapToolChoice(options.tool_choice, body.tools ? options.parallel_tool_calls : undefined);
  if (toolChoice) body.tool_choice = toolChoice;
  if (typeof options.user === 'string' && options.user) body.metadata = { user_id: options.user };
  if (options.n !== undefined && options.n !== null && options.n !== 1) {
    throw requestError(`n = ${String(options.n)}: Anthropic returns one choice per call (use generateBatch for several)`);
  }
  const format = isJson(options.response_format) ? options.response_format.type : undefined;
  if (format !== undefined && format !== 'text') {
    throw requestError(`response_format "${String(format)}" has no Anthropic equivalent; describe the format in the prompt, or use a tool`);
  }
  return body;
}

/**
 * `thinking` budgets for OpenAI's `reasoning_effort`. Anthropic's minimum budget is 1024; `none` and
 * `minimal` turn thinking off (no `thinking` is sent). The table is documented in docs/reasoning.md.
 */
export const THINKING_BUDGETS: Readonly<Record<string, number | undefined>> = {
  none: undefined,
  minimal: undefined,
  low: 1024,
  medium: 4096,
  high: 16384,
  xhigh: 32768,
  max: 65536,
};

/** The `thinking` to send: an explicit Anthropic `thinking` wins over `reasoning_effort`. */
function thinkingOf(options: Json): Json | undefined {
  if (options.thinking !== undefined && options.thinking !== null) {
    if (!isJson(options.thinking) || typeof options.thinking.type !== 'string') {
      throw requestError('thinking must be an object with a type, as Anthropic takes it ({ type: "enabled", budget_tokens })');
    }
    return options.thinking;
  }
  const effort = options.reasoning_effort;
  if (effort === undefined || effort === null) return undefined;
  if (typeof effort !== 'string' || !Object.hasOwn(THINKING_BUDGETS, effort)) {
    throw requestError(`reasoning_effort ${JSON.stringify(effort)} is not one of ${Object.keys(THINKING_BUDGETS).join(', ')}`);
  }
  const budget = THINKING_BUDGETS[effort];
  return budget === undefined ? undefined : { type: 'enabled', budget_tokens: budget };
}

/**
 * Anthropic counts thinking inside max_tokens and wants budget_tokens below it: a limit that leaves no
 * room above the budget becomes budget + the instance's `maxTokens`, so the answer keeps the room it
 * would have had without thinking.
 */
function maxTokensOf(options: Json, fallback: number, thinking: Json | undefined): number {
  const value = options.max_completion_tokens ?? options.max_tokens;
  const limit = typeof value === 'number' ? value : fallback;
  const budget = thinking?.type === 'enabled' ? thinking.budget_tokens : undefined;
  return typeof budget === 'number' && limit <= budget ? budget + fallback : limit;
}

function mapMessages(messages: ChatCompletionMessageParam[]): { system?: string | Block[]; turns: AnthropicMessage[] } {
  if (!Array.isArray(messages)) throw requestError('messages must be an array');
  const system: Block[] = [];
  const turns: AnthropicMessage[] = [];
  const push = (role: AnthropicMessage['role'], content: string | Block[] | undefined) => {
    if (content === undefined) return;
    const last = turns[turns.length - 1];
    // Anthropic wants user and assistant turns to alternate: neighbours of one role become one turn.
    if (last?.role === role) last.content = ordered(role, [...blocksOf(last.content), ...blocksOf(content)]);
    else turns.push({ role, content: Array.isArray(content) ? ordered(role, content) : content });
  };
  messages.forEach((message, i) => {
    const m = message as unknown as Json;
    switch (m.role) {
      case 'system':
      case 'developer': {
        // Anthropic has one top-level system prompt: every system/developer message goes there, in order.
        system.push(...withMessageCache(systemBlocks(m.content, `messages[${i}]`), m));
        break;
      }
      case 'user':
        push('user', withMessageCache(userContent(m.content, i), m));
        break;
      case 'assistant':
        push('assistant', withMessageCache(assistantContent(m, i), m));
        break;
      case 'tool':
        push('user', withMessageCache([toolResult(m, i)], m));
        break;
      default:
        throw requestError(`messages[${i}] has role "${String(m.role)}", which Anthropic has no equivalent for`);
    }
  });
  if (system.length === 0) return { turns };
  // Plain text unless a block asks for caching, which only the block form can carry.
  if (system.some((b) => b.cache_control !== undefined)) return { system, turns };
  return { system: system.map((b) => b.text).join('\n\n'), turns };
}

/** `cache_control` as the caller wrote it on a part or a message; Anthropic checks its shape. */
function cacheControlOf(from: Json): Json | undefined {
  return isJson(from.cache_control) ? from.cache_control : undefined;
}

/** A block with the part's `cache_control`, when it has one. */
function withCache(block: Block, part: Json): Block {
  const cache = cacheControlOf(part);
  return cache ? { ...block, cache_control: cache } : block;
}

/** `cache_control` on a whole message marks its last block, as LiteLLM reads it. */
function withMessageCache<T extends string | Block[] | undefined>(content: T, m: Json): T | Block[] {
  const cache = cacheControlOf(m);
  if (!cache || content === undefined) return content;
  const blocks = blocksOf(content);
  if (blocks.length === 0) return content;
  return [...blocks.slice(0, -1), { ...blocks[blocks.length - 1]!, cache_control: cache }];
}

/** A system/developer message as text blocks, one per part, empty ones left out. */
function systemBlocks(content: unknown, where: string): Block[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) throw requestError(`${where} has no text content`);
  const blocks = content.map((part, p): Block => {
    if (isJson(part) && part.type === 'text' && typeof part.text === 'string') return withCache({ type: 'text', text: part.text }, part);
    throw requestError(`${where}.content[${p}] is not a text part (${String(isJson(part) ? part.type : typeof part)})`);
  });
  // Parts of one message were joined with a newline; the block form keeps them apart instead.
  if (!blocks.some((b) => b.cache_control !== undefined)) {
    const text = blocks.map((b) => b.text).join('\n');
    return text ? [{ type: 'text', text }] : [];
  }
  return blocks.filter((b) => b.text !== '');
}

function blocksOf(content: string | Block[]): Block[] {
  return typeof content === 'string' ? (content ? [{ type: 'text', text: content }] : []) : content;
}

// In a user turn, tool results must come before anything else.
function ordered(role: AnthropicMessage['role'], blocks: Block[]): Block[] {
  if (role !== 'user') return blocks;
  return [...blocks.filter((b) => b.type === 'tool_result'), ...blocks.filter((b) => b.type !== 'tool_result')];
}

/** The text of a system/developer/tool message: a string, or its text parts joined. */
function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw requestError(`${where} has no text content`);
  return content
    .map((part, p) => {
      if (isJson(part) && part.type === 'text' && typeof part.text === 'string') return part.text;
      throw requestError(`${where}.content[${p}] is not a text part (${String(isJson(part) ? part.type : typeof part)})`);
    })
    .join('\n');
}

function userContent(content: unknown, i: number): string | Block[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw requestError(`messages[${i}] (user) has no content`);
  return content.map((part, p): Block => {
    const where = `messages[${i}].content[${p}]`;
    if (!isJson(part)) throw requestError(`${where} is not a content part`);
    if (part.type === 'text' && typeof part.text === 'string') return withCache({ type: 'text', text: part.text }, part);
    if (part.type === 'image_url' && isJson(part.image_url) && typeof part.image_url.url === 'string') {
      return withCache(imageBlock(part.image_url.url, where), part);
    }
    if (part.type === 'file' && isJson(part.file) && typeof part.file.file_data === 'string') return withCache(documentBlock(part.file.file_data, where), part);
    throw requestError(`${where} is a "${String(part.type)}" part, which this provider does not map to Anthropic (text, image_url and PDF files are)`);
  });
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(url: string, where: string): Block {
  const data = DATA_URL.exec(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw requestError(`${where}: an image must be an http(s) URL or a base64 data URL`);
}

function documentBlock(fileData: string, where: string): Block {
  const data = DATA_URL.exec(fileData);
  if (data?.[1] === 'application/pdf') return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: data[2] } };
  throw requestError(`${where}: only PDF files (a base64 data URL of application/pdf) map to Anthropic documents`);
}

function assistantContent(m: Json, i: number): string | Block[] | undefined {
  // Thinking goes back first, signed, as Anthropic needs it when a tool turn continues; a bare
  // `reasoning_content` has no signature and is not sent.
  const blocks: Block[] = thinkingBlocksOf(m.thinking_blocks, i);
  const thought = blocks.length > 0;
  if (typeof m.content === 'string') {
    if (m.content) blocks.push({ type: 'text', text: m.content });
  } else if (Array.isArray(m.content)) {
    m.content.forEach((part, p) => {
      const text = isJson(part) ? (part.type === 'text' ? part.text : part.type === 'refusal' ? part.refusal : undefined) : undefined;
      if (typeof text !== 'string') throw requestError(`messages[${i}].content[${p}] (assistant) is not a text or refusal part`);
      // Anthropic refuses empty text blocks.
      if (text) blocks.push(withCache({ type: 'text', text }, part as Json));
    });
  }
  const toolCalls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
  toolCalls.forEach((call, c) => {
    const where = `messages[${i}].tool_calls[${c}]`;
    if (!isJson(call) || call.type !== 'function' || !isJson(call.function) || typeof call.id !== 'string') {
      throw requestError(`${where} is not a function tool call`);
    }
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments, where) });
  });
  // An assistant turn with nothing in it (content "") would be refused; it carries nothing either.
  if (blocks.length === 0) return undefined;
  // A plain text answer keeps its plain form.
  if (toolCalls.length === 0 && !thought && typeof m.content === 'string') return m.content;
  return blocks;
}

/** An assistant message's `thinking_blocks` (as this mapping returns them) as Anthropic blocks. */
function thinkingBlocksOf(value: unknown, i: number): Block[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw requestError(`messages[${i}].thinking_blocks must be an array`);
  return value.map((block, b): Block => {
    const where = `messages[${i}].thinking_blocks[${b}]`;
    if (isJson(block) && block.type === 'thinking' && typeof block.thinking === 'string' && typeof block.signature === 'string') {
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    }
    if (isJson(block) && block.type === 'redacted_thinking' && typeof block.data === 'string') return { type: 'redacted_thinking', data: block.data };
    throw requestError(`${where} is neither a signed thinking block ({ type: "thinking", thinking, signature }) nor a redacted_thinking one ({ type, data })`);
  });
}

function parseArguments(args: unknown, where: string): Json {
  if (args === undefined || args === null || args === '') return {};
  if (typeof args !== 'string') throw requestError(`${where}.function.arguments must be a JSON string`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw requestError(`${where}.function.arguments is not valid JSON`);
  }
  if (!isJson(parsed)) throw requestError(`${where}.function.arguments must be a JSON object (Anthropic's tool input is one)`);
  return parsed;
}

function toolResult(m: Json, i: number): Block {
  if (typeof m.tool_call_id !== 'string' || !m.tool_call_id) throw requestError(`messages[${i}] (tool) has no tool_call_id`);
  const block: Block = { type: 'tool_result', tool_use_id: m.tool_call_id };
  if (typeof m.content === 'string') {
    if (m.content) block.content = m.content;
  } else {
    const text = textOf(m.content, `messages[${i}]`);
    if (text) block.content = [{ type: 'text', text }];
  }
  return block;
}

function mapTool(tool: unknown, t: number): Json {
  if (!isJson(tool) || tool.type !== 'function' || !isJson(tool.function) || typeof tool.function.name !== 'string') {
    throw requestError(`tools[${t}] is not a function tool (Anthropic takes function tools only)`);
  }
  const fn = tool.function;
  const cache = cacheControlOf(tool);
  return {
    name: fn.name,
    ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
    // Anthropic requires a schema; a function without parameters takes an empty object.
    input_schema: isJson(fn.parameters) ? fn.parameters : { type: 'object', properties: {} },
    ...(cache ? { cache_control: cache } : {}),
  };
}

function mapToolChoice(choice: unknown, parallel: unknown): Json | undefined {
  const disableParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined || choice === null) return parallel === false ? { type: 'auto', ...disableParallel } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...disableParallel };
  if (choice === 'required') return { type: 'any', ...disableParallel };
  if (isJson(choice) && choice.type === 'function' && isJson(choice.function) && typeof choice.function.name === 'string') {
    return { type: 'tool', name: choice.function.name, ...disableParallel };
  }
  throw requestError(`tool_choice ${JSON.stringify(choice)} has no Anthropic equivalent`);
}

type FinishReason = ChatCompletion.Choice['finish_reason'];

/** Anthropic's stop_reason as OpenAI's finish_reason. */
export function finishReasonOf(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn
      return 'stop';
  }
}

/** Anthropic's usage as OpenAI's: its input_tokens leave out cached tokens, which OpenAI's prompt_tokens count. */
export function usageOf(usage: unknown): CompletionUsage | undefined {
  if (!isJson(usage)) return undefined;
  const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const cached = count(usage.cache_read_input_tokens);
  const prompt = count(usage.input_tokens) + count(usage.cache_creation_input_tokens) + cached;
  const completion = count(usage.output_tokens);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cached > 0 ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
  };
}

/** Reasoning on a message or a delta, beside OpenAI's own fields. */
export interface ReasoningFields {
  reasoning_content?: string;
  thinking_blocks?: Json[];
}

/** A Messages API answer as an OpenAI ChatCompletion. */
export function fromAnthropicMessage(answer: unknown, created = Math.floor(Date.now() / 1000)): ChatCompletion {
  if (!isJson(answer) || !Array.isArray(answer.content)) {
    throw responseError(`expected a message with content blocks, got ${isJson(answer) ? `an object of type ${String(answer.type)}` : typeof answer}`);
  }
  const texts: string[] = [];
  const thoughts: string[] = [];
  const thinkingBlocks: Json[] = [];
  const toolCalls: NonNullable<ChatCompletion.Choice['message']['tool_calls']> = [];
  answer.content.forEach((block, b) => {
    if (!isJson(block)) throw responseError(`content[${b}] is not a block`);
    if (block.type === 'thinking') {
      if (typeof block.thinking !== 'string') throw responseError(`content[${b}] is a thinking block without thinking`);
      thoughts.push(block.thinking);
      thinkingBlocks.push({ type: 'thinking', thinking: block.thinking, signature: typeof block.signature === 'string' ? block.signature : '' });
    } else if (block.type === 'redacted_thinking') {
      if (typeof block.data === 'string') thinkingBlocks.push({ type: 'redacted_thinking', data: block.data });
    } else if (block.type === 'text') {
      if (typeof block.text !== 'string') throw responseError(`content[${b}] is a text block without text`);
      texts.push(block.text);
    } else if (block.type === 'tool_use') {
      if (typeof block.id !== 'string' || typeof block.name !== 'string') throw responseError(`content[${b}] is a tool_use block without id or name`);
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
    // Server-tool blocks have no place in an OpenAI message.
  });
  const message: ChatCompletion.Choice['message'] & ReasoningFields = {
    role: 'assistant',
    content: texts.length > 0 ? texts.join('') : toolCalls.length > 0 ? null : '',
    refusal: null,
    // vLLM's, DeepSeek's and LiteLLM's field for the reasoning text.
    ...(thoughts.length > 0 ? { reasoning_content: thoughts.join('\n\n') } : {}),
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    // LiteLLM's field: the signed blocks, for the caller to send back on the assistant message.
    ...(thinkingBlocks.length > 0 ? { thinking_blocks: thinkingBlocks } : {}),
  };
  return {
    id: typeof answer.id === 'string' ? answer.id : 'msg_unknown',
    object: 'chat.completion',
    created,
    model: typeof answer.model === 'string' ? answer.model : '',
    choices: [{ index: 0, message, finish_reason: finishReasonOf(answer.stop_reason), logprobs: null }],
    ...(isJson(answer.usage) ? { usage: usageOf(answer.usage) } : {}),
  };
}

/** An `error` event inside a stream: Anthropic's error type and message. */
export class StreamErrorEvent extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Turns the Messages API's stream events into OpenAI chunks as they arrive: a role chunk at
 * message_start, text deltas as content, thinking deltas as `reasoning_content` (and each thinking
 * block whole, signed, as `thinking_blocks` when it stops), tool_use blocks as tool_calls deltas (id
 * and name first, then argument fragments), a finish chunk at message_delta and a usage chunk (empty
 * choices) at message_stop. Unknown event types are skipped, as Anthropic's versioning policy asks.
 */
export class AnthropicStreamMapper {
  #id = 'msg_unknown';
  #model: string;
  #created = Math.floor(Date.now() / 1000);
  #usage: Json = {};
  #tools = new Map<number, { index: number; sentArguments: boolean }>();
  // Thinking blocks by block index, sent whole with their signature at content_block_stop.
  #thinking = new Map<number, Json>();
  #reasoned = false;
  #separateNext = false;
  #finishSent = false;
  #stopped = false;
  readonly #includeUsage: boolean;

  constructor(options: { model: string; includeUsage: boolean }) {
    this.#model = options.model;
    this.#includeUsage = options.includeUsage;
  }

  /** Whether message_stop has arrived. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** The chunks for one SSE event (often none, sometimes two). */
  push(event: { event?: string; data: string }): ChatCompletionChunk[] {
    if (this.#stopped) return [];
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      throw responseError(`the "${event.event ?? 'message'}" event is not JSON`);
    }
    if (!isJson(data)) throw responseError(`the "${event.event ?? 'message'}" event is not an object`);
    const type = typeof data.type === 'string' ? data.type : event.event;
    switch (type) {
      case 'message_start': {
        const message = isJson(data.message) ? data.message : {};
        if (typeof message.id === 'string') this.#id = message.id;
        if (typeof message.model === 'string') this.#model = message.model;
        if (isJson(message.usage)) this.#usage = { ...message.usage };
        return [this.#chunk({ role: 'assistant', content: '' })];
      }
      case 'content_block_start':
        return this.#blockStart(data);
      case 'content_block_delta':
        return this.#blockDelta(data);
      case 'content_block_stop': {
        const thinking = this.#thinking.get(Number(data.index));
        if (thinking) return [this.#chunk({ thinking_blocks: [thinking] } as ChatCompletionChunk.Choice['delta'])];
        const tool = this.#tools.get(Number(data.index));
        // A tool called without input still needs arguments a consumer can parse.
        if (tool && !tool.sentArguments) return [this.#chunk({ tool_calls: [{ index: tool.index, function: { arguments: '{}' } }] })];
        return [];
      }
      case 'message_delta': {
        if (isJson(data.usage)) this.#usage = { ...this.#usage, ...withoutNulls(data.usage) };
        const delta = isJson(data.delta) ? data.delta : {};
        if (delta.stop_reason === undefined || delta.stop_reason === null || this.#finishSent) return [];
        this.#finishSent = true;
        return [this.#chunk({}, finishReasonOf(delta.stop_reason))];
      }
      case 'message_stop': {
        this.#stopped = true;
        const out: ChatCompletionChunk[] = [];
        if (!this.#finishSent) out.push(this.#chunk({}, 'stop'));
        if (this.#includeUsage) {
          out.push({ id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: [], usage: usageOf(this.#usage) });
        }
        return out;
      }
      case 'error': {
        const error = isJson(data.error) ? data.error : {};
        throw new StreamErrorEvent(String(error.type ?? 'error'), typeof error.message === 'string' ? error.message : 'unknown error');
      }
      default:
        // ping, and event types added later.
        return [];
    }
  }

  #blockStart(data: Json): ChatCompletionChunk[] {
    const block = isJson(data.content_block) ? data.content_block : {};
    if (block.type === 'text' && typeof block.text === 'string' && block.text) return [this.#chunk({ content: block.text })];
    if (block.type === 'thinking') {
      const thinking = typeof block.thinking === 'string' ? block.thinking : '';
      this.#thinking.set(Number(data.index), { type: 'thinking', thinking, signature: typeof block.signature === 'string' ? block.signature : '' });
      // Separate blocks read apart, as the non-streamed message joins them.
      this.#separateNext = this.#reasoned;
      return thinking ? [this.#reasoning(thinking)] : [];
    }
    if (block.type === 'redacted_thinking' && typeof block.data === 'string') {
      this.#thinking.set(Number(data.index), { type: 'redacted_thinking', data: block.data });
      return [];
    }
    if (block.type === 'tool_use') {
      if (typeof block.id !== 'string' || typeof block.name !== 'string') throw responseError('a tool_use block started without id or name');
      const index = this.#tools.size;
      this.#tools.set(Number(data.index), { index, sentArguments: false });
      return [this.#chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] })];
    }
    return [];
  }

  #blockDelta(data: Json): ChatCompletionChunk[] {
    const delta = isJson(data.delta) ? data.delta : {};
    if (delta.type === 'text_delta' && typeof delta.text === 'string') return delta.text ? [this.#chunk({ content: delta.text })] : [];
    if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
      const tool = this.#tools.get(Number(data.index));
      if (!tool) throw responseError(`input_json_delta for block ${String(data.index)}, which is not a tool_use block`);
      if (!delta.partial_json) return [];
      tool.sentArguments = true;
      return [this.#chunk({ tool_calls: [{ index: tool.index, function: { arguments: delta.partial_json } }] })];
    }
    if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string') {
      const block = this.#thinking.get(Number(data.index));
      if (!block) throw responseError(`thinking_delta for block ${String(data.index)}, which is not a thinking block`);
      block.thinking = `${String(block.thinking)}${delta.thinking}`;
      return delta.thinking ? [this.#reasoning(delta.thinking)] : [];
    }
    if (delta.type === 'signature_delta' && typeof delta.signature === 'string') {
      const block = this.#thinking.get(Number(data.index));
      if (block) block.signature = `${String(block.signature ?? '')}${delta.signature}`;
      return [];
    }
    // citations_delta: nothing an OpenAI chunk carries.
    return [];
  }

  #reasoning(text: string): ChatCompletionChunk {
    const reasoning = this.#separateNext ? `\n\n${text}` : text;
    this.#separateNext = false;
    this.#reasoned = true;
    return this.#chunk({ reasoning_content: reasoning } as ChatCompletionChunk.Choice['delta']);
  }

  #chunk(delta: ChatCompletionChunk.Choice['delta'], finishReason: ChatCompletionChunk.Choice['finish_reason'] = null): ChatCompletionChunk {
    return {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    };
  }
}

function withoutNulls(value: Json): Json {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined));
}
