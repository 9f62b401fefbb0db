import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { raceAbort, sleep, throwIfAborted } from '../core/abort.js';
import type { GenerateBatchOptions, GenerateObjectOptions, GenerateObjectResult, GenerateOptions, LLM } from '../core/llm.js';
import type { DtoClass } from '../core/object-schema.js';
import { generateObjectWith } from '../core/structured-output.js';
import { mapConcurrent } from '../resilience/concurrency.js';
import { FakeInstance, type FakeInstanceOptions } from './fake-instance.js';

/** An object answered as JSON text: what `generateObject` reads (it may break the DTO's rules, to test repairs). */
export interface FakeObjectReply {
  object: unknown;
}

/** An answer that calls tools: `arguments` as an object (sent as JSON) or as the raw string. */
export interface FakeToolCallsReply {
  toolCalls: Array<{ name: string; arguments?: unknown; id?: string }>;
}

/** What a scripted reply function may give back; an `Error` (returned or thrown) makes the call reject. */
export type FakeReplyValue = string | ChatCompletion | FakeObjectReply | FakeToolCallsReply | Error;

/** Computes a reply from the call itself; `options` is the call's own, signal included. */
export type FakeReplyFn = (messages: ChatCompletionMessageParam[], options: GenerateOptions) => FakeReplyValue | Promise<FakeReplyValue>;

/**
 * One scripted reply: a text (wrapped in a well-formed completion), `{ object }` (its JSON as the
 * text), `{ toolCalls }` (an answer calling those tools), a whole `ChatCompletion` (returned as
 * given), an `Error` (the call rejects with it), or a function.
 */
export type FakeReply = FakeReplyValue | FakeReplyFn;

export interface FakeLLMOptions extends FakeInstanceOptions {
  /** Default 'fake-model'. */
  model?: string;
  /** Replies given to the calls in order, one per `generate`/`stream` call (a batch makes one call per item). */
  replies?: FakeReply[];
  /** The reply once the script is used up. Default: the text of the last user message (an echo). */
  default?: FakeReply;
  /** Wait between streamed chunks. Default 0. (`delayMs` waits before the first one.) */
  chunkDelayMs?: number;
  /** Characters (code points) per streamed content chunk. Default 4. */
  chunkSize?: number;
}

/** One recorded call. `options` is what the caller passed, without `signal`. */
export interface FakeLLMCall {
  method: 'generate' | 'stream';
  messages: ChatCompletionMessageParam[];
  options: Omit<GenerateOptions, 'signal'>;
}

/**
 * A scripted, network-free `LLM` for tests. Every call is recorded in `calls` and takes the next
 * scripted reply at the moment it is made (aborted calls included), so the script is consumed in
 * call order; `generateBatch` starts its items in input order.
 *
 * Usage is estimated with {@link estimateTokens}: prompt tokens are summed over the messages' text,
 * completion tokens come from the reply's text.
 */
export class FakeLLM extends FakeInstance<FakeLLMCall> implements LLM {
  readonly kind = 'llm' as const;
  readonly model: string;
  private readonly initialReplies: readonly FakeReply[];
  private script: FakeReply[];
  private readonly fallback: FakeReply;
  private readonly chunkDelayMs: number;
  private readonly chunkSize: number;
  private sequence = 0;

  constructor(options: FakeLLMOptions = {}) {
    super('FakeLLM', options);
    this.model = options.model ?? 'fake-model';
    this.initialReplies = [...(options.replies ?? [])];
    this.script = [...this.initialReplies];
    this.fallback = options.default ?? echoLastUserMessage;
    this.chunkDelayMs = nonNegative('chunkDelayMs', options.chunkDelayMs ?? 0);
    this.chunkSize = options.chunkSize ?? 4;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1) {
      throw new RangeError(`FakeLLM: chunkSize must be a positive integer, got ${options.chunkSize}`);
    }
  }

  /** How many scripted replies are left before the default takes over. */
  get remaining(): number {
    return this.script.length;
  }

  /** Appends replies to the script. Chainable. */
  enqueue(...replies: FakeReply[]): this {
    this.script.push(...replies);
    return this;
  }

  /** Same as {@link enqueue}; reads well in tests: `llm.reply('yes').reply(new Error('down'))`. */
  reply(...replies: FakeReply[]): this {
    return this.enqueue(...replies);
  }

  /** Back to the state right after construction: the constructor's script again, no calls recorded. */
  override reset(): void {
    super.reset();
    this.script = [...this.initialReplies];
    this.sequence = 0;
  }

  generate(messages: ChatCompletionMessageParam[], options: GenerateOptions = {}): Promise<ChatCompletion> {
    // Taken now, not after an await, so concurrent calls consume the script in call order.
    const reply = this.take('generate', messages, options);
    return this.resolve(reply, messages, options);
  }

  stream(messages: ChatCompletionMessageParam[], options: GenerateOptions = {}): AsyncIterable<ChatCompletionChunk> {
    const reply = this.take('stream', messages, options);
    return this.chunks(reply, messages, options);
  }

  generateBatch(batch: ChatCompletionMessageParam[][], options: GenerateBatchOptions = {}): Promise<ChatCompletion[]> {
    const { concurrency = 4, ...callOptions } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      return Promise.reject(new RangeError(`concurrency must be a positive integer, got ${concurrency}`));
    }
    return mapConcurrent(batch, concurrency, (messages) => this.generate(messages, callOptions));
  }

  /**
   * The real `generateObject` (schema, parsing, validation, repairs) over this fake's `generate`:
   * script `{ object }` replies, one per attempt. Each attempt is recorded as a `generate` call whose
   * options carry the `response_format` asked for.
   */
  generateObject<T extends object>(
    dto: DtoClass<T>,
    messages: ChatCompletionMessageParam[],
    options: GenerateObjectOptions = {},
  ): Promise<GenerateObjectResult<T>> {
    return generateObjectWith((conversation, callOptions) => this.generate(conversation, callOptions), dto, messages, options);
  }

  private take(method: FakeLLMCall['method'], messages: ChatCompletionMessageParam[], options: GenerateOptions): FakeReply {
    const { signal: _signal, ...recorded } = options;
    this.calls.push({ method, messages: [...messages], options: recorded });
    // failNext errors come before the script.
    return this.failures.shift() ?? (this.script.length > 0 ? (this.script.shift() as FakeReply) : this.fallback);
  }

  private async resolve(reply: FakeReply, messages: ChatCompletionMessageParam[], options: GenerateOptions): Promise<ChatCompletion> {
    const { signal } = options;
    throwIfAborted(signal);
    if (this.delayMs > 0) await sleep(this.delayMs, signal);
    const value =
      typeof reply === 'function'
        ? await raceAbort(
            Promise.resolve().then(() => reply(messages, options)),
            signal,
          )
        : reply;
    throwIfAborted(signal);
    if (value instanceof Error) throw value;
    if (typeof value === 'string') return this.completion(value, messages);
    if (isObjectReply(value)) return this.completion(JSON.stringify(value.object), messages);
    if (isToolCallsReply(value)) return this.toolCallCompletion(value, messages);
    // A copy, so a reply reused as the default is never shared between callers.
    return structuredClone(value);
  }

  private completion(text: string, messages: ChatCompletionMessageParam[]): ChatCompletion {
    return {
      id: `chatcmpl-fake-${++this.sequence}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: this.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text, refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: usageOf(messages, text),
    };
  }

  private toolCallCompletion(reply: FakeToolCallsReply, messages: ChatCompletionMessageParam[]): ChatCompletion {
    const completion = this.completion('', messages);
    const choice = completion.choices[0]!;
    choice.message.content = null;
    choice.message.tool_calls = reply.toolCalls.map((call, i) => ({
      id: call.id ?? `call_fake_${this.sequence}_${i}`,
      type: 'function' as const,
      function: { name: call.name, arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}) },
    }));
    choice.finish_reason = 'tool_calls';
    const text = choice.message.tool_calls.map((c) => (c.type === 'function' ? c.function.name + c.function.arguments : '')).join('');
    completion.usage = usageOf(messages, text);
    return completion;
  }

  private async *chunks(reply: FakeReply, messages: ChatCompletionMessageParam[], options: GenerateOptions): AsyncGenerator<ChatCompletionChunk> {
    const { signal } = options;
    const completion = await this.resolve(reply, messages, options);
    const head = { id: completion.id, object: 'chat.completion.chunk' as const, created: completion.created, model: completion.model };
    let first = true;
    // Checked before every chunk, so an abort between iterations rejects the next one at once.
    const gate = async (): Promise<void> => {
      if (!first && this.chunkDelayMs > 0) await sleep(this.chunkDelayMs, signal);
      first = false;
      throwIfAborted(signal);
    };
    const chunk = (
      index: number,
      delta: ChatCompletionChunk.Choice.Delta,
      finish_reason: ChatCompletionChunk.Choice['finish_reason'] = null,
    ): ChatCompletionChunk => ({ ...head, choices: [{ index, delta, finish_reason, logprobs: null }] });

    for (const choice of completion.choices) {
      const { message } = choice;
      await gate();
      yield chunk(choice.index, { role: 'assistant', content: '', refusal: null });
      for (const piece of pieces(message.content ?? '', this.chunkSize)) {
        await gate();
        yield chunk(choice.index, { content: piece });
      }
      const toolCalls = (message.tool_calls ?? []).flatMap((call, index) =>
        call.type === 'function' ? [{ index, id: call.id, type: 'function' as const, function: { ...call.function } }] : [],
      );
      if (toolCalls.length > 0) {
        await gate();
        yield chunk(choice.index, { tool_calls: toolCalls });
      }
      if (message.refusal) {
        await gate();
        yield chunk(choice.index, { refusal: message.refusal });
      }
      await gate();
      yield chunk(choice.index, {}, choice.finish_reason);
    }
    await gate();
    yield { ...head, choices: [], usage: completion.usage ?? usageOf(messages, textOf(completion)) };
  }
}

/**
 * The fakes' token estimate: a quarter of the characters, rounded up (OpenAI's rule of thumb for
 * English text). Empty text is 0 tokens.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The text of a message: its string content, or its text (and refusal) parts joined. */
export function messageText(message: ChatCompletionMessageParam): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as ReadonlyArray<{ type: string; text?: string; refusal?: string }>)
    .map((part) => (part.type === 'text' ? (part.text ?? '') : part.type === 'refusal' ? (part.refusal ?? '') : ''))
    .join('');
}

function isObjectReply(value: unknown): value is FakeObjectReply {
  return typeof value === 'object' && value !== null && 'object' in value && !('choices' in value);
}

function isToolCallsReply(value: unknown): value is FakeToolCallsReply {
  return typeof value === 'object' && value !== null && Array.isArray((value as FakeToolCallsReply).toolCalls) && !('choices' in value);
}

function echoLastUserMessage(messages: ChatCompletionMessageParam[]): string {
  const last = messages.findLast((m) => m.role === 'user');
  return last ? messageText(last) : '';
}

function usageOf(messages: ChatCompletionMessageParam[], reply: string): CompletionUsage {
  const prompt = messages.reduce((sum, m) => sum + estimateTokens(messageText(m)), 0);
  const completion = estimateTokens(reply);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function textOf(completion: ChatCompletion): string {
  return completion.choices.map((c) => c.message.content ?? '').join('');
}

/** Slices `text` into pieces of `size` code points, lazily, never splitting a surrogate pair. */
function* pieces(text: string, size: number): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = start;
    for (let n = 0; n < size && end < text.length; n++) {
      end += (text.codePointAt(end) as number) > 0xffff ? 2 : 1;
    }
    yield text.slice(start, end);
    start = end;
  }
}

function nonNegative(key: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${key} must be a non-negative number, got ${value}`);
  return value;
}
