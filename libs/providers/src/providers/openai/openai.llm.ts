import { siteOf } from '../../core/call-site.js';
import { LLMInstanceConfig } from '../../core/instance-config.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam, LLMCallOptions, LLMDriver } from '../../core/llm.js';
import { defineLLMProvider, type DriverContext } from '../../core/provider-definition.js';
import { ProviderError } from '../../core/provider-error.js';
import { redactSecrets } from '../../core/redact.js';
import type { HttpClient } from '../../http/http-client.js';
import { badResponse, describeValue, isObject, MAX_UPSTREAM_TEXT, upstreamDetail } from '../../http/http-errors.js';
import { createOpenAIHttpClient, OPENAI_DEFAULT_BASE_URL, withOpenAIFields, type OpenAIConnectionConfig } from './openai-client.js';
import { normalizeChunkReasoning, normalizeCompletionReasoning } from './reasoning-fields.js';

/** `type: openai` under `llm:`: OpenAI's chat completions API. */
export class OpenAILLMConfig extends withOpenAIFields(LLMInstanceConfig) {}

/** Where an OpenAI-speaking service takes each request, under its API root (Azure adds its `api-version`). */
export interface OpenAIRoutes {
  chat: string;
  embeddings: string;
  models: string;
}

export const OPENAI_ROUTES: OpenAIRoutes = { chat: '/chat/completions', embeddings: '/embeddings', models: '/models' };

export interface OpenAIChatDriverOptions {
  /** How the service takes an output limit the library sets; default `max_tokens`. */
  tokenLimitParam?: 'max_tokens' | 'max_completion_tokens';
  /** Ask for a final usage chunk (`stream_options.include_usage`) when the caller did not set `stream_options`; default true. */
  streamUsage?: boolean;
  /** A client built elsewhere (Azure's, Gemini's), and its routes. */
  client?: HttpClient;
  routes?: OpenAIRoutes;
  /** Reshapes answers and chunks in place after the reasoning fields are named (Gemini's thought tags). */
  answers?: {
    completion?(completion: Record<string, unknown>): void;
    /** A new one per stream: it may keep state across the chunks. */
    chunks?(): (chunk: Record<string, unknown>) => void;
  };
}

// Keys that may reach the driver (from YAML `params` or a loose caller) but must not reach the body:
// the driver decides `stream` itself, and the rest are the library's.
type LooseCallOptions = LLMCallOptions & { stream?: unknown; timeoutMs?: unknown; model?: unknown; messages?: unknown };

/**
 * One attempt at one chat call against an OpenAI-speaking server (`openai`, `openai-compatible`,
 * and Azure's and Gemini's endpoints), over the library's HTTP client. The API key lives only in the
 * client's private headers: nothing printable reaches it.
 */
export class OpenAIChatDriver implements LLMDriver {
  readonly model: string;
  readonly tokenLimitParam: 'max_tokens' | 'max_completion_tokens';
  readonly #http: HttpClient;
  readonly #routes: OpenAIRoutes;
  readonly #streamUsage: boolean;
  readonly #answers: NonNullable<OpenAIChatDriverOptions['answers']>;

  constructor(config: Pick<OpenAIConnectionConfig, 'model'> & Partial<OpenAIConnectionConfig>, context: DriverContext, options: OpenAIChatDriverOptions = {}) {
    this.model = config.model;
    this.#http = options.client ?? createOpenAIHttpClient(config, context);
    this.#routes = options.routes ?? OPENAI_ROUTES;
    this.#streamUsage = options.streamUsage ?? true;
    this.tokenLimitParam = options.tokenLimitParam ?? 'max_tokens';
    this.#answers = options.answers ?? {};
  }

  /** The service's API root, for telemetry. */
  get serverUrl(): string {
    return this.#http.site.baseUrl;
  }

  /** Free: listing the models answers when the server is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    await this.#http.get(this.#routes.models, signal);
  }

  async generate(messages: ChatCompletionMessageParam[], options: LLMCallOptions): Promise<ChatCompletion> {
    const { signal, params } = splitOptions(options);
    // stream_options is only valid with stream: true; a YAML `params` meant for streams must not break this.
    delete params.stream_options;
    const completion = await this.#http.postJson(this.#routes.chat, { ...params, model: this.model, messages, stream: false }, signal);
    if (!isObject(completion) || !Array.isArray(completion.choices)) {
      throw badResponse(this.#http.site, `expected a chat completion, got ${describeValue(completion)}`);
    }
    normalizeCompletionReasoning(completion);
    this.#answers.completion?.(completion);
    return completion as unknown as ChatCompletion;
  }

  async *stream(messages: ChatCompletionMessageParam[], options: LLMCallOptions): AsyncGenerator<ChatCompletionChunk> {
    const { signal, params } = splitOptions(options);
    const streamOptions = params.stream_options ?? (this.#streamUsage ? { include_usage: true } : undefined);
    delete params.stream_options;
    const body = { ...params, model: this.model, messages, stream: true, ...(streamOptions ? { stream_options: streamOptions } : {}) };
    let done = false;
    const reshape = this.#answers.chunks?.();
    for await (const event of this.#http.postSse(this.#routes.chat, body, signal)) {
      // After [DONE] the rest is read only to keep the connection for the next call.
      if (done) continue;
      if (event.data.startsWith('[DONE]')) {
        done = true;
        continue;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(event.data);
      } catch (err) {
        throw badResponse(this.#http.site, `malformed JSON in the stream (${(err as Error).message})`);
      }
      if (isObject(chunk) && chunk.error !== undefined && chunk.error !== null) throw streamError(this.#http, chunk.error);
      if (!isObject(chunk)) throw badResponse(this.#http.site, `expected a chat completion chunk, got ${describeValue(chunk)}`);
      normalizeChunkReasoning(chunk);
      reshape?.(chunk);
      yield chunk as unknown as ChatCompletionChunk;
    }
  }
}

/** An `error` sent inside a stream whose HTTP status was 200: retryable when the service says it is its own trouble. */
function streamError(http: HttpClient, error: unknown): ProviderError {
  const detail = upstreamDetail(JSON.stringify({ error }), http.site.secrets);
  const message = isObject(error) && typeof error.message === 'string' ? error.message : JSON.stringify(error);
  const text = message.replace(/\s+/g, ' ').trim().slice(0, MAX_UPSTREAM_TEXT);
  return new ProviderError(
    redactSecrets(
      `${http.site.kind} "${http.site.name}" (${http.site.type}): upstream sent an error in the stream${text ? `: ${text}` : ''}`,
      http.site.secrets,
    ),
    {
      ...siteOf(http.site),
      retryable: /server_error|overloaded|rate_limit/i.test(`${detail?.type ?? ''} ${detail?.code ?? ''}`),
      code: 'stream-error',
      upstream: detail,
    },
  );
}

function splitOptions(options: LLMCallOptions): {
  signal: AbortSignal;
  params: Record<string, unknown> & { stream_options?: LLMCallOptions['stream_options'] };
} {
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
