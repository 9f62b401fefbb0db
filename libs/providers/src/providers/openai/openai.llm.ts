import type OpenAI from 'openai';
import { APIUserAbortError } from 'openai';
import { LLMInstanceConfig } from '../../core/instance-config.js';
import { defineLLMProvider, type DriverContext } from '../../core/provider-definition.js';
import { createOpenAIClient, OPENAI_DEFAULT_BASE_URL, withOpenAIFields, type OpenAIConnectionConfig } from './openai-client.js';
import { badResponse, describeValue, isObject } from '../../http/http-errors.js';
import { toProviderError, type OpenAICallSite } from './openai-errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam, LLMCallOptions, LLMDriver } from '../../core/llm.js';

/** `type: openai` under `llm:`: OpenAI's chat completions API. */
export class OpenAILLMConfig extends withOpenAIFields(LLMInstanceConfig) {}

export interface OpenAIChatDriverOptions {
  /** How the service takes an output limit the library sets; default `max_tokens`. */
  tokenLimitParam?: 'max_tokens' | 'max_completion_tokens';
  /** Ask for a final usage chunk (`stream_options.include_usage`) when the caller did not set `stream_options`; default true. */
  streamUsage?: boolean;
  /** A client built elsewhere (Azure's, one with a custom fetch), with the site its errors name. */
  connection?: OpenAIConnection;
}

/** An SDK client and the call site its errors name. */
export interface OpenAIConnection {
  client: OpenAI;
  site: OpenAICallSite;
}

// Keys that may reach the driver (from YAML `params` or a loose caller) but must not reach the body:
// the driver decides `stream` itself, and the rest are the library's.
type LooseCallOptions = LLMCallOptions & { stream?: unknown; timeoutMs?: unknown; model?: unknown; messages?: unknown };

/**
 * One attempt at one chat call against an OpenAI-speaking server (`openai`, `openai-compatible`).
 * The API key lives only inside the SDK client, in a private field: nothing printable reaches it.
 */
export class OpenAIChatDriver implements LLMDriver {
  readonly model: string;
  readonly tokenLimitParam: 'max_tokens' | 'max_completion_tokens';
  readonly #client: OpenAI;
  readonly #site: OpenAICallSite;
  readonly #streamUsage: boolean;

  constructor(config: Pick<OpenAIConnectionConfig, 'model'> & Partial<OpenAIConnectionConfig>, context: DriverContext, options: OpenAIChatDriverOptions = {}) {
    this.model = config.model;
    const { client, site } = options.connection ?? createOpenAIClient(config, context);
    this.#client = client;
    this.#site = site;
    this.#streamUsage = options.streamUsage ?? true;
    this.tokenLimitParam = options.tokenLimitParam ?? 'max_tokens';
  }

  /** Free: listing the models answers when the server is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    try {
      await this.#client.models.list({ signal });
    } catch (err) {
      throw toProviderError(err, this.#site, signal);
    }
  }

  async generate(messages: ChatCompletionMessageParam[], options: LLMCallOptions): Promise<ChatCompletion> {
    const { signal, params } = splitOptions(options);
    // stream_options is only valid with stream: true; a YAML `params` meant for streams must not break this.
    delete params.stream_options;
    try {
      const completion: unknown = await this.#client.chat.completions.create(
        { ...params, model: this.model, messages, stream: false },
        { signal },
      );
      if (!isObject(completion) || !Array.isArray(completion.choices)) {
        throw badResponse(this.#site, `expected a chat completion, got ${describeValue(completion)}`);
      }
      return completion as unknown as ChatCompletion;
    } catch (err) {
      throw toProviderError(err, this.#site, signal);
    }
  }

  async *stream(messages: ChatCompletionMessageParam[], options: LLMCallOptions): AsyncGenerator<ChatCompletionChunk> {
    const { signal, params } = splitOptions(options);
    const streamOptions = params.stream_options ?? (this.#streamUsage ? { include_usage: true } : undefined);
    delete params.stream_options;
    try {
      const chunks = await this.#client.chat.completions.create(
        { ...params, model: this.model, messages, stream: true, ...(streamOptions ? { stream_options: streamOptions } : {}) },
        { signal },
      );
      // Chunks go out as they come. A consumer's `break` returns this generator, which returns the
      // SDK's iterator, whose `finally` aborts the HTTP request.
      for await (const chunk of chunks as AsyncIterable<unknown>) {
        if (!isObject(chunk)) throw badResponse(this.#site, `expected a chat completion chunk, got ${describeValue(chunk)}`);
        yield chunk as unknown as ChatCompletionChunk;
      }
    } catch (err) {
      throw toProviderError(err, this.#site, signal);
    }
    // The SDK ends a stream quietly when its request is aborted; the caller must see the abort.
    if (signal.aborted) throw toProviderError(new APIUserAbortError(), this.#site, signal);
  }
}

function splitOptions(options: LLMCallOptions): { signal: AbortSignal; params: Record<string, unknown> & { stream_options?: LLMCallOptions['stream_options'] } } {
  const { signal, stream: _stream, timeoutMs: _timeoutMs, model: _model, messages: _messages, ...params } = options as LooseCallOptions;
  return { signal, params };
}

export const openaiLLM = defineLLMProvider({
  type: 'openai',
  config: OpenAILLMConfig,
  description: 'OpenAI chat completions (api.openai.com, or a proxy in front of it through baseUrl)',
  docs: { defaultBaseUrl: OPENAI_DEFAULT_BASE_URL },
  // OpenAI's newer models take only max_completion_tokens (max_tokens is deprecated there).
  create: (config, context) => new OpenAIChatDriver(config, context, { tokenLimitParam: 'max_completion_tokens' }),
});
