import type { ProviderInstance } from './provider-instance.js';
import type { DtoClass } from './object-schema.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsBase, ChatCompletionMessageParam } from 'openai/resources/chat/completions';

export type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam };

/** OpenAI chat parameters by their own names, plus cancellation and a per-call deadline. */
export type GenerateOptions = Omit<Partial<ChatCompletionCreateParamsBase>, 'messages' | 'model' | 'stream'> & {
  signal?: AbortSignal;
  /** Deadline of this logical call in ms (retries included); overrides the instance's `timeoutMs`. */
  timeoutMs?: number;
  /** Extra headers for the call's upstream requests (a request id); never over the type's own auth headers. */
  headers?: Record<string, string>;
};

export type GenerateBatchOptions = GenerateOptions & {
  /** How many calls run at once; default 4. */
  concurrency?: number;
};

/** What `generateObject` takes: everything `generate` does, and how often an invalid answer is sent back. */
export type GenerateObjectOptions = Omit<GenerateOptions, 'response_format'> & {
  /** Times an invalid answer is sent back with its errors before the call fails; 0 to 10, default 2. */
  maxRepairs?: number;
};

/** What `generateObject` resolves to. */
export interface GenerateObjectResult<T> {
  /** A validated instance of the DTO. */
  object: T;
  /** The completion the object was read from (the last one). */
  completion: ChatCompletion;
  /** Answers asked for: 1 + the repairs used. */
  attempts: number;
}

/**
 * How a driver carries `response_format: { type: 'json_schema' }`: sent as is (`json_schema`), as a
 * forced tool whose input is the object (`tool`), or as a grammar the sampler follows (`grammar`).
 */
export type StructuredOutputMode = 'json_schema' | 'tool' | 'grammar';

/**
 * A named chat model. Inject one with `@InjectLLM('name')`, or the default one by type:
 * `constructor(private readonly llm: LLM)`.
 */
export interface LLM extends ProviderInstance {
  readonly kind: 'llm';
  generate(messages: ChatCompletionMessageParam[], options?: GenerateOptions): Promise<ChatCompletion>;
  stream(messages: ChatCompletionMessageParam[], options?: GenerateOptions): AsyncIterable<ChatCompletionChunk>;
  generateBatch(batch: ChatCompletionMessageParam[][], options?: GenerateBatchOptions): Promise<ChatCompletion[]>;
  /**
   * Asks for an instance of a class-validator DTO: the answer is parsed, turned into the class and
   * validated, and sent back with its errors up to `maxRepairs` times. Rejects with
   * `StructuredOutputError` when it stays invalid.
   */
  generateObject<T extends object>(dto: DtoClass<T>, messages: ChatCompletionMessageParam[], options?: GenerateObjectOptions): Promise<GenerateObjectResult<T>>;
}
/** Runtime token for the default LLM; merged with the interface so it is both a type and a token. */
export abstract class LLM {}

/** Options a driver receives: parameters merged (instance `params` < call options), and a signal that is always there. */
export type LLMCallOptions = Omit<GenerateOptions, 'signal' | 'timeoutMs' | 'headers'> & { signal: AbortSignal };

/**
 * What a provider type implements for the `llm` kind: one attempt at one call. Retries, deadlines,
 * fallbacks and batching are the library's, around it. Errors are `ProviderError`s (or aborts).
 */
export interface LLMDriver {
  readonly model: string;
  /** The service's address (its API root), for telemetry's `server.address`; absent in process. */
  readonly serverUrl?: string;
  /**
   * The name under which the service takes an output limit the library sets (`maxTokensCap`):
   * `max_tokens` (the default) or `max_completion_tokens` (OpenAI's, which its newer models require).
   */
  readonly tokenLimitParam?: 'max_tokens' | 'max_completion_tokens';
  /**
   * How the driver maps `response_format: { type: 'json_schema' }`, which `generateObject` sends to
   * every type: `json_schema` (the default: passed on), `tool` or `grammar`. The answer always comes
   * back as the message's JSON text.
   */
  readonly structuredOutput?: StructuredOutputMode;
  generate(messages: ChatCompletionMessageParam[], options: LLMCallOptions): Promise<ChatCompletion>;
  /** Must ask for usage where the service supports it, so the last chunk carries `usage`. */
  stream(messages: ChatCompletionMessageParam[], options: LLMCallOptions): AsyncIterable<ChatCompletionChunk>;
  /**
   * Optional: a free check that the service answers and takes the credentials (a `GET /models`,
   * `/health`): never anything billed. Resolves when usable, throws a ProviderError when not.
   */
  ping?(signal: AbortSignal): Promise<void>;
  close?(): Promise<void> | void;
}
