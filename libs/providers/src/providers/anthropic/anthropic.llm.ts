import { IsArray, IsInt, IsNotEmpty, IsOptional, IsString, Min } from '../../core/validation.js';
import { ToNumber } from '../../core/config-fields.js';
import { LLMInstanceConfig } from '../../core/instance-config.js';
import { ProviderError } from '../../core/provider-error.js';
import { HttpClient } from '../../http/http-client.js';
import { badResponse } from '../../http/http-errors.js';
import { urlSecrets, withRequiredApiKey, withRequiredModel, withServiceConnection } from '../../toolkit/service-fields.js';
import { defineLLMProvider, type DriverContext } from '../../core/provider-definition.js';
import { structuredAnswer, structuredChunks, withStructuredTool } from './anthropic-structured.js';
import { AnthropicStreamMapper, fromAnthropicMessage, MappingError, StreamErrorEvent, toAnthropicRequest } from './anthropic-mapping.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam, LLMCallOptions, LLMDriver } from '../../core/llm.js';

/** The API root of the `anthropic` type when `baseUrl` is not given. */
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** The `anthropic-version` header every request carries. */
export const ANTHROPIC_API_VERSION = '2023-06-01';

/** `max_tokens` of calls that set none: Anthropic requires one. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

// Error types of a stream's `error` event that another attempt can get past (529, 500, 429 outside streams).
const RETRYABLE_STREAM_ERRORS = new Set(['overloaded_error', 'api_error', 'rate_limit_error', 'timeout_error']);

/** `type: anthropic` under `llm:`: Anthropic's Messages API, mapped to and from OpenAI's chat shapes. */
export class AnthropicLLMConfig extends withRequiredModel(withRequiredApiKey(withServiceConnection(LLMInstanceConfig))) {
  /** `max_tokens` of calls that give neither max_tokens nor max_completion_tokens; default 4096. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) maxTokens?: number;

  /** Beta features to turn on, sent as the `anthropic-beta` header (comma-joined). */
  @IsOptional() @IsArray() @IsString({ each: true }) @IsNotEmpty({ each: true }) betas?: string[];
}

/** One attempt at one call to `POST {baseUrl}/v1/messages`, plain or streamed. */
export class AnthropicChatDriver implements LLMDriver {
  readonly model: string;
  /** A JSON-schema response_format becomes a forced tool. */
  readonly structuredOutput = 'tool';
  readonly #client: HttpClient;
  readonly #maxTokens: number;
  readonly #callHeaders: Record<string, string>;

  constructor(config: AnthropicLLMConfig, context: DriverContext) {
    this.model = config.model;
    this.#maxTokens = config.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS;
    const baseUrl = config.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL;
    // Only the key and the configured headers are secrets; the version and betas go per call, so
    // error messages may still name them.
    this.#client = new HttpClient({ baseUrl, headers: { ...config.headers, 'x-api-key': config.apiKey }, secrets: urlSecrets(baseUrl) }, context);
    this.#callHeaders = {
      'anthropic-version': ANTHROPIC_API_VERSION,
      ...(config.betas?.length ? { 'anthropic-beta': config.betas.join(',') } : {}),
    };
  }

  /** The service's API root, for telemetry. */
  get serverUrl(): string {
    return this.#client.site.baseUrl;
  }

  /** Free: `GET /v1/models` answers when the service is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    await this.#client.get('/v1/models', signal, this.#callHeaders);
  }

  async generate(messages: ChatCompletionMessageParam[], options: LLMCallOptions): Promise<ChatCompletion> {
    const { signal, ...asked } = options;
    const { params, tool } = withStructuredTool(asked);
    const body = this.#body(messages, params);
    const answer = await this.#client.postJson('/v1/messages', body, signal, this.#callHeaders);
    let completion: ChatCompletion;
    try {
      completion = fromAnthropicMessage(answer);
    } catch (err) {
      throw this.#mappingFailure(err);
    }
    return tool ? structuredAnswer(completion, tool) : completion;
  }

  stream(messages: ChatCompletionMessageParam[], options: LLMCallOptions): AsyncGenerator<ChatCompletionChunk> {
    const { signal, ...asked } = options;
    const { params, tool } = withStructuredTool(asked);
    const chunks = this.#stream(messages, { ...params, signal } as LLMCallOptions);
    return tool ? structuredChunks(chunks, tool) : chunks;
  }

  async *#stream(messages: ChatCompletionMessageParam[], options: LLMCallOptions): AsyncGenerator<ChatCompletionChunk> {
    const { signal, ...params } = options;
    const body = { ...this.#body(messages, params), stream: true };
    // Anthropic always reports usage; `stream_options: {include_usage: false}` only leaves the chunk out.
    const includeUsage = params.stream_options?.include_usage !== false;
    const mapper = new AnthropicStreamMapper({ model: this.model, includeUsage });
    for await (const event of this.#client.postSse('/v1/messages', body, signal, this.#callHeaders)) {
      let chunks: ChatCompletionChunk[];
      try {
        chunks = mapper.push(event);
      } catch (err) {
        throw this.#mappingFailure(err);
      }
      yield* chunks;
      if (mapper.stopped) return;
    }
    // The connection closed cleanly, but the message never ended: a cut stream, worth another try.
    throw this.#client.error('the stream ended before message_stop', { retryable: true, code: 'connection' });
  }

  #body(messages: ChatCompletionMessageParam[], params: Omit<LLMCallOptions, 'signal'>): Record<string, unknown> {
    try {
      return toAnthropicRequest(messages, params as Record<string, unknown>, { model: this.model, maxTokens: this.#maxTokens });
    } catch (err) {
      throw this.#mappingFailure(err);
    }
  }

  #mappingFailure(err: unknown): Error {
    if (err instanceof StreamErrorEvent) {
      return this.#client.error(`upstream sent an error in the stream: ${err.errorType}: ${err.message}`, {
        retryable: RETRYABLE_STREAM_ERRORS.has(err.errorType),
        code: 'stream-error',
      });
    }
    if (err instanceof MappingError) {
      return err.side === 'request'
        ? this.#client.error(`cannot send this call to Anthropic: ${err.message}`, { code: 'bad-input' })
        : badResponse(this.#client.site, err.message);
    }
    return err instanceof ProviderError ? err : (err as Error);
  }
}

export const anthropicLLM = defineLLMProvider({
  type: 'anthropic',
  config: AnthropicLLMConfig,
  description: "Anthropic's Messages API (api.anthropic.com), mapped to and from OpenAI chat shapes",
  docs: {
    defaultBaseUrl: ANTHROPIC_DEFAULT_BASE_URL,
    notes:
      `Sends x-api-key and anthropic-version ${ANTHROPIC_API_VERSION}; max_tokens defaults to maxTokens (${ANTHROPIC_DEFAULT_MAX_TOKENS}); ` +
      'system/developer messages become the system prompt; seed, penalties and logprobs are not sent, n > 1 is refused; response_format json_schema (and json_object, as any object) becomes a forced tool; reasoning_effort sets a thinking budget (thinking comes back as reasoning_content); cache_control on parts and system messages is passed on.',
  },
  create: (config, context) => new AnthropicChatDriver(config, context),
});
