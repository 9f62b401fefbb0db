import { Injectable } from '@nestjs/common';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam, GenerateOptions } from '@hush/providers';
import { OpenAIError } from '../common/openai-error.js';
import { ModelResolver } from '../common/models.js';
import { NON_PARAMETER_FIELDS, type ChatCompletionRequestDto } from './chat.dto.js';

const NON_PARAMETERS = new Set<string>(NON_PARAMETER_FIELDS);

/** The call parameters of a request: every OpenAI parameter the client set, by its own name. */
export function callParameters(body: ChatCompletionRequestDto): GenerateOptions {
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!NON_PARAMETERS.has(key) && value !== undefined && value !== null) params[key] = value;
  }
  return params as GenerateOptions;
}

/**
 * One chunk as the client gets it: `model` is the name the client asked for. The library always asks
 * the upstream for usage; unless the client asked too (`stream_options.include_usage`), the usage-only
 * chunk is dropped and no chunk carries a `usage` field, as OpenAI does.
 */
export function shapeChunk(chunk: ChatCompletionChunk, model: string, includeUsage: boolean): ChatCompletionChunk | undefined {
  if (includeUsage) return { ...chunk, model };
  if (chunk.choices.length === 0 && chunk.usage) return undefined;
  // Copied without `usage` rather than deleted from the copy: an object with a deleted key is slower to serialize.
  const { usage: _usage, ...out } = chunk;
  out.model = model;
  return out;
}

/** Chat completions over whichever LLM the request's `model` names; the request's id goes upstream as `x-request-id`. */
@Injectable()
export class ChatService {
  constructor(private readonly models: ModelResolver) {}

  /** The completion as the client gets it; `onResult` sees the library's first (whether it came from the cache). */
  async complete(body: ChatCompletionRequestDto, signal: AbortSignal, onResult?: (result: object) => void): Promise<ChatCompletion> {
    this.checkStreamOptions(body);
    const llm = this.models.resolve('llm', body.model);
    const completion = await llm.generate(body.messages as unknown as ChatCompletionMessageParam[], {
      ...callParameters(body),
      signal,
    });
    onResult?.(completion);
    return { ...completion, model: body.model };
  }

  /**
   * Opens the stream and waits for its first chunk (the library retries and falls back until then), so
   * that a failure before any output is an ordinary HTTP error. The chunks after it come as they arrive.
   */
  async stream(body: ChatCompletionRequestDto, signal: AbortSignal, onFirst?: (chunk: object) => void): Promise<AsyncIterable<ChatCompletionChunk>> {
    const llm = this.models.resolve('llm', body.model);
    const iterator = llm.stream(body.messages as unknown as ChatCompletionMessageParam[], { ...callParameters(body), signal })[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (!first.done) onFirst?.(first.value);
    const includeUsage = body.stream_options?.include_usage === true;
    const model = body.model;
    return (async function* () {
      try {
        for (let next = first; !next.done; next = await iterator.next()) {
          const chunk = shapeChunk(next.value, model, includeUsage);
          if (chunk) yield chunk;
        }
      } finally {
        // Stopping early (client gone, write failed) ends the upstream request too.
        await iterator.return?.();
      }
    })();
  }

  /** `stream_options` without `stream: true` is refused, as OpenAI refuses it. */
  checkStreamOptions(body: ChatCompletionRequestDto): void {
    if (body.stream_options != null && body.stream !== true) {
      throw OpenAIError.badRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
    }
  }
}
