import type { LLMInstanceConfig } from '../core/instance-config.js';
import { describeSite } from '../core/call-site.js';
import { ProviderAbortError, ProviderError } from '../core/provider-error.js';
import { linkedController, raceAbort } from '../core/abort.js';
import { type CallScope } from '../resilience/call-policy.js';
import type { CallResult } from '../telemetry/telemetry.js';
import type { TokenUsage } from '../telemetry/pricing.js';
import { ManagedInstance, type AttemptHold, type Lease, type ManagedInstanceInit } from '../resilience/managed-instance.js';
import { mapConcurrent } from '../resilience/concurrency.js';
import { answerCacheOf, markCache, type AnswerCache } from './answer-cache.js';
import { generateObjectWith, maxRepairsOf } from '../core/structured-output.js';
import type { DtoClass } from '../core/object-schema.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  GenerateBatchOptions,
  GenerateObjectOptions,
  GenerateObjectResult,
  GenerateOptions,
  LLM,
  LLMCallOptions,
  LLMDriver,
} from '../core/llm.js';

const DEFAULT_BATCH_CONCURRENCY = 4;
const DEADLINE_SLACK_MS = 50;

// The reason a finished stream's request is ended with; one shared instance spares an error per stream.
const STREAM_ENDED = new ProviderAbortError('the stream has ended');

const NO_HOLD: AttemptHold = { settleTokens: () => undefined, release: () => undefined };

/** An open upstream stream whose first chunk has arrived. */
interface OpenStream {
  iterator: AsyncIterator<ChatCompletionChunk>;
  first: IteratorResult<ChatCompletionChunk>;
  controller: AbortController;
  unlink: () => void;
  owner: ManagedLLM;
  /** The slot, the deployment's count and the token estimate, kept until the stream ends. */
  hold: AttemptHold;
  /** One timer for the whole stream, re-armed for each wait (cheaper than one per chunk). */
  idle?: NodeJS.Timeout;
  /** Whether a chunk is being waited for: the consumer's own pace never counts as the upstream's idleness. */
  waiting: boolean;
  idleError?: ProviderError;
}

/** The LLM users inject: a driver (or several deployments) with the instance's policy around it. */
export class ManagedLLM extends ManagedInstance<LLMDriver, ManagedLLM> implements LLM {
  declare readonly kind: 'llm';
  readonly model: string;
  private readonly params: Record<string, unknown>;
  private readonly fixedParams: Record<string, unknown>;
  private readonly refusedParams: ReadonlySet<string>;
  private readonly maxTokensCap?: number;
  private readonly captureContent?: boolean;
  /** Completions and streams by request, when the config has `cache:`. */
  private readonly answers?: AnswerCache;

  constructor(init: ManagedInstanceInit<LLMDriver>) {
    super(init);
    this.model = this.primaryDriver.model;
    const config = init.config as LLMInstanceConfig;
    this.params = { ...config.params };
    this.fixedParams = { ...config.fixedParams };
    this.refusedParams = new Set(config.refusedParams ?? []);
    this.maxTokensCap = config.maxTokensCap;
    this.captureContent = config.captureContent;
    this.answers = answerCacheOf(this.store.cache, config, 'llm');
  }

  async generate(messages: ChatCompletionMessageParam[], options: GenerateOptions = {}): Promise<ChatCompletion> {
    const { signal, timeoutMs, headers, ...params } = options;
    const scope = this.openScope(timeoutMs, signal);
    const observation = (scope.observation = this.observe('generate', messages, params));
    scope.headers = headers;
    try {
      const answers = this.answers;
      const key = answers && answers.key(this.requestMaterial('generate', messages, params));
      const stored = key ? parseJson(await this.lookup(answers, key, scope)) : undefined;
      if (isCompletion(stored)) {
        observation.cache('hit');
        observation.result(resultOf(stored));
        observation.end();
        return markCache(stored, 'hit');
      }
      const answered: { by?: ManagedLLM } = {};
      const completion = await scope.run(() =>
        this.withFallbacks(scope, (target) => {
          answered.by = target;
          const callParams = target.callParams(params);
          return target.attempt(scope, (driver, attemptSignal) => driver.generate(messages, withSignal(callParams, attemptSignal)), {
            estimate: estimateTokens(messages, callParams),
            actual: (completion) => totalTokensOf(completion.usage),
          });
        }),
      );
      if (key) {
        if (this.answersLike(answered.by)) await answers.set([[key, JSON.stringify(completion)]]);
        observation.cache('miss');
        markCache(completion, 'miss');
      }
      observation.result(resultOf(completion));
      observation.end();
      return completion;
    } catch (err) {
      observation.end(err);
      throw err;
    } finally {
      scope.dispose();
    }
  }

  /**
   * Streams chunks as they arrive. Retries and fallbacks happen only until the first chunk has been
   * handed out; after that a failure ends the stream with the error. A consumer that stops early
   * (break) aborts the upstream request.
   */
  async *stream(messages: ChatCompletionMessageParam[], options: GenerateOptions = {}): AsyncGenerator<ChatCompletionChunk> {
    const { signal, timeoutMs, headers, ...params } = options;
    const scope = this.openScope(timeoutMs, signal);
    const observation = (scope.observation = this.observe('stream', messages, params));
    scope.headers = headers;
    const answer = new StreamAnswer(observation.captures);
    let open: OpenStream | undefined;
    let failure: unknown;
    try {
      const answers = this.answers;
      const key = answers && answers.key(this.requestMaterial('stream', messages, params));
      const stored = key ? parseJson(await this.lookup(answers, key, scope)) : undefined;
      if (Array.isArray(stored) && stored.length > 0 && stored.every(isChunk)) {
        observation.cache('hit');
        for (const chunk of stored) {
          // The replay goes at the consumer's pace, within the call's deadline like any stream.
          if (scope.signal.aborted) throw scope.failure(scope.signal.reason, this);
          answer.add(chunk);
          observation.firstChunk();
          yield markCache(chunk, 'hit');
        }
        return;
      }
      const answered: { by?: ManagedLLM } = {};
      open = await scope.run(() =>
        this.withFallbacks(scope, (target) => {
          answered.by = target;
          const callParams = target.callParams(params);
          return target.attempt(scope, (driver, attemptSignal, lease) => target.openStream(driver, messages, callParams, scope, attemptSignal, lease), {
            estimate: estimateTokens(messages, callParams),
          });
        }),
      );
      let next = open.first;
      observation.firstChunk();
      // Each chunk as JSON when it arrives (the consumer may change the objects it is handed); stored
      // only once the upstream has ended the stream, never a stream cut short.
      const recorded: string[] | undefined = key ? [] : undefined;
      if (key) observation.cache('miss');
      for (;;) {
        if (next.done) {
          if (recorded && recorded.length > 0 && this.answersLike(answered.by)) await answers!.set([[key!, `[${recorded.join(',')}]`]]);
          return;
        }
        answer.add(next.value);
        if (next.value.usage) open.hold.settleTokens(totalTokensOf(next.value.usage));
        if (recorded) {
          recorded.push(JSON.stringify(next.value));
          markCache(next.value, 'miss');
        }
        yield next.value;
        try {
          next = await open.owner.nextChunk(open, scope);
        } catch (err) {
          throw scope.failure(err, open.owner);
        }
      }
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      observation.result(answer.result());
      observation.end(failure);
      if (open) {
        clearTimeout(open.idle);
        open.controller.abort(STREAM_ENDED);
        open.unlink();
        open.hold.release();
        open.iterator.return?.()?.catch(() => undefined);
      }
      scope.dispose();
    }
  }

  async generateBatch(batch: ChatCompletionMessageParam[][], options: GenerateBatchOptions = {}): Promise<ChatCompletion[]> {
    const { concurrency = DEFAULT_BATCH_CONCURRENCY, signal, ...rest } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`${describeSite(this)}: generateBatch concurrency must be a whole number ≥ 1; got ${concurrency}.`);
    }
    // A span that groups the calls' own (each generate is observed as a call of its own).
    const observation = this.telemetry.start({
      ...this.callStart('generateBatch'),
      grouping: true,
      attributes: { [BATCH_SIZE]: batch.length },
    });
    // One failure cancels the calls still running: their answers could not be returned anyway.
    const { controller, unlink } = linkedController(signal);
    try {
      const completions = await observation.run(() =>
        mapConcurrent(batch, concurrency, (messages) => this.generate(messages, { ...rest, signal: controller.signal })),
      );
      observation.end();
      return completions;
    } catch (err) {
      controller.abort(err);
      observation.end(err);
      throw err;
    } finally {
      unlink();
    }
  }

  /**
   * One deadline for the whole call (`timeoutMs`, else the instance's): each answer and each repair
   * is an ordinary `generate` within what is left of it, so repairs never stretch the caller's wait.
   */
  async generateObject<T extends object>(
    dto: DtoClass<T>,
    messages: ChatCompletionMessageParam[],
    options: GenerateObjectOptions = {},
  ): Promise<GenerateObjectResult<T>> {
    const { signal, timeoutMs, ...rest } = options;
    maxRepairsOf(options);
    const scope = this.openScope(timeoutMs, signal);
    try {
      return await generateObjectWith(
        (conversation, callOptions) => {
          scope.attempts++;
          // The inner deadline is a little past the outer one, so the outer (with the whole call's timeoutMs) is the one reported.
          return this.generate(conversation, { ...callOptions, signal: scope.signal, timeoutMs: Math.max(1, scope.remainingMs()) + DEADLINE_SLACK_MS }).catch(
            (err: unknown) => {
              throw scope.failure(err, this);
            },
          );
        },
        dto,
        messages,
        rest,
      );
    } finally {
      scope.dispose();
    }
  }

  /**
   * What a cached answer depends on: the instance, its type and model, the call's shape (a stream's
   * chunks and a completion are stored apart), the messages, and every parameter as sent (the
   * instance's params and fixedParams merged with the call's, the token cap applied). A call this
   * instance refuses throws here, before anything is looked up.
   */
  private requestMaterial(call: 'generate' | 'stream', messages: ChatCompletionMessageParam[], params: CallParams): unknown {
    return [this.name, this.type, this.model, call, messages, this.callParams(params)];
  }

  /** The stored value under `key`; a store that is slow past the call's deadline or abort ends the call like any wait. */
  private async lookup(answers: AnswerCache, key: string, scope: CallScope): Promise<string | undefined> {
    try {
      const [stored] = await raceAbort(answers.get([key]), scope.signal);
      return stored;
    } catch (err) {
      throw scope.failure(err, this);
    }
  }

  /** Whether what `target` answered may stand for this instance's answer: a fallback of another type or model may not. */
  private answersLike(target: ManagedLLM | undefined): boolean {
    return target?.type === this.type && target.model === this.model;
  }

  /** How a call of this instance is described to telemetry. */
  private callStart(call: string) {
    return {
      kind: 'llm' as const,
      operation: 'chat',
      call,
      instance: this.name,
      type: this.type,
      model: this.model,
      pricing: this.pricing,
      captureContent: this.captureContent,
    };
  }

  private observe(call: string, messages: ChatCompletionMessageParam[], params: CallParams) {
    // The parameters as sent (with the cap where the call gave none); a call this instance refuses
    // fails before any attempt, and its span shows what the caller asked.
    const sent = () => {
      try {
        return this.callParams(params);
      } catch {
        return { ...this.params, ...params, ...this.fixedParams };
      }
    };
    return this.telemetry.start({ ...this.callStart(call), params: sent, input: () => messages });
  }

  /**
   * What this instance sends for a call: its `params`, the call's options over them, its
   * `fixedParams` over both. A call that sets one of the `refusedParams`, or asks for more output
   * tokens than `maxTokensCap`, is refused before anything is spent; a call that asks for no limit
   * gets the cap.
   */
  private callParams(params: CallParams): CallParams {
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && this.refusedParams.has(key)) {
        throw this.error(`the call sets "${key}", which this instance does not take from callers (refusedParams). Leave it out.`, 'bad-input', false);
      }
    }
    const merged: Record<string, unknown> = { ...this.params, ...params, ...this.fixedParams };
    const cap = this.maxTokensCap;
    if (cap === undefined) return merged as CallParams;
    for (const key of TOKEN_LIMITS) {
      const asked = merged[key];
      if (typeof asked === 'number' && asked > cap) {
        throw this.error(`${key} ${asked} is above this instance's cap of ${cap} (maxTokensCap); ask for ${cap} or fewer.`, 'bad-input', false);
      }
    }
    if (TOKEN_LIMITS.every((key) => merged[key] == null)) merged[this.primaryDriver.tokenLimitParam ?? 'max_tokens'] = cap;
    return merged as CallParams;
  }

  /**
   * Opens the upstream stream and waits for its first chunk, so a failure here can still be retried.
   * The request ends with the attempt when the attempt is given up before its first chunk (attempt
   * timeout), and with the call at any time after.
   */
  private async openStream(
    driver: LLMDriver,
    messages: ChatCompletionMessageParam[],
    params: CallParams,
    scope: CallScope,
    attemptSignal: AbortSignal,
    lease: Lease,
  ): Promise<OpenStream> {
    const { controller, unlink } = linkedController(scope.signal, attemptSignal);
    let open: OpenStream | undefined;
    try {
      const iterator = driver.stream(messages, withSignal(params, controller.signal))[Symbol.asyncIterator]();
      open = { iterator, first: { done: true, value: undefined }, controller, unlink, owner: this, hold: NO_HOLD, waiting: false };
      open.first = await this.nextChunk(open, scope);
      open.hold = lease.keep();
      return open;
    } catch (err) {
      clearTimeout(open?.idle);
      controller.abort(STREAM_ENDED);
      unlink();
      throw err;
    }
  }

  /** The next chunk, or an idle-timeout error when none comes within `idleTimeoutMs`. */
  private async nextChunk(open: OpenStream, scope: CallScope): Promise<IteratorResult<ChatCompletionChunk>> {
    open.waiting = true;
    if (open.idle) open.idle.refresh();
    else open.idle = setTimeout(() => this.idleTimedOut(open), this.policy.idleTimeoutMs).unref();
    try {
      return await raceAbort(open.iterator.next(), open.controller.signal);
    } catch (err) {
      throw open.idleError ?? (scope.signal.aborted ? scope.failure(err, this) : err);
    } finally {
      open.waiting = false;
    }
  }

  private idleTimedOut(open: OpenStream): void {
    if (!open.waiting) return;
    const idle = this.policy.idleTimeoutMs;
    open.idleError = new ProviderError(
      `${describeSite(this)}: the stream sent nothing for idleTimeoutMs ${idle} ms. Raise idleTimeoutMs, or look at the upstream's health.`,
      { instance: this.name, type: this.type, kind: this.kind, retryable: true, code: 'idle-timeout' },
    );
    open.controller.abort(open.idleError);
  }
}

type CallParams = Omit<GenerateOptions, 'signal' | 'timeoutMs' | 'headers'>;

const BATCH_SIZE = 'hush.batch.size';

/** What a completion tells telemetry. */
function resultOf(completion: ChatCompletion): CallResult {
  return {
    id: completion.id,
    model: completion.model,
    finishReasons: completion.choices?.map((c) => c.finish_reason).filter((r): r is NonNullable<typeof r> => !!r),
    usage: usageOf(completion.usage),
    output: () => completion.choices?.map((c) => c.message),
  };
}

function usageOf(usage: ChatCompletion['usage'] | null | undefined): TokenUsage | undefined {
  if (!usage) return undefined;
  return { input: usage.prompt_tokens ?? 0, output: usage.completion_tokens ?? 0, cachedInput: usage.prompt_tokens_details?.cached_tokens ?? undefined };
}

/** What a stream's chunks tell telemetry, gathered as they pass (the text only when it is recorded). */
class StreamAnswer {
  #id?: string;
  #model?: string;
  readonly #finishReasons: string[] = [];
  #usage?: TokenUsage;
  readonly #text: string[] = [];

  constructor(private readonly keepText: boolean) {}

  add(chunk: ChatCompletionChunk): void {
    this.#id ||= chunk.id;
    this.#model ||= chunk.model;
    const choices = chunk.choices;
    for (let i = 0; i < choices.length; i++) {
      const choice = choices[i]!;
      if (choice.finish_reason) this.#finishReasons.push(choice.finish_reason);
      if (this.keepText && choice.delta?.content) this.#text.push(choice.delta.content);
    }
    if (chunk.usage) this.#usage = usageOf(chunk.usage);
  }

  result(): CallResult {
    const text = this.#text;
    return {
      id: this.#id,
      model: this.#model,
      finishReasons: this.#finishReasons,
      usage: this.#usage,
      output: this.keepText ? () => [{ role: 'assistant', content: text.join('') }] : undefined,
    };
  }
}

const TOKEN_LIMITS = ['max_tokens', 'max_completion_tokens'] as const;

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isCompletion(value: unknown): value is ChatCompletion {
  return typeof value === 'object' && value !== null && Array.isArray((value as ChatCompletion).choices);
}

function isChunk(value: unknown): value is ChatCompletionChunk {
  return typeof value === 'object' && value !== null && Array.isArray((value as ChatCompletionChunk).choices);
}

function withSignal(params: CallParams, signal: AbortSignal): LLMCallOptions {
  return { ...params, signal } as LLMCallOptions;
}

/** The total a usage block reports, or prompt + completion where the total is missing (never NaN). */
export function totalTokensOf(usage: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null | undefined): number | undefined {
  if (!usage) return undefined;
  if (Number.isFinite(usage.total_tokens)) return usage.total_tokens;
  const parts = [usage.prompt_tokens, usage.completion_tokens].filter((n): n is number => Number.isFinite(n));
  return parts.length > 0 ? parts.reduce((a, b) => a + b, 0) : undefined;
}

/** A rough count for `tpm` before the call: a quarter of the characters, plus the tokens asked for. */
function estimateTokens(messages: ChatCompletionMessageParam[], params: CallParams): number {
  const chars = messages.reduce((sum, m) => sum + (typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length), 0);
  return Math.ceil(chars / 4) + (params.max_completion_tokens ?? params.max_tokens ?? 0);
}
