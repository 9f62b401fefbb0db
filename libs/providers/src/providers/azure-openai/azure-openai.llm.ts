import { LLMInstanceConfig } from '../../core/instance-config.js';
import { AZURE_OPENAI_DEFAULT_API_VERSION, createAzureHttpClient, withAzureOpenAIFields } from './azure-openai-client.js';
import { isObject } from '../../http/http-errors.js';
import { defineLLMProvider } from '../../core/provider-definition.js';
import type { ChatCompletionChunk, ChatCompletionMessageParam, LLMCallOptions } from '../../core/llm.js';
import { OpenAIChatDriver } from '../openai/openai.llm.js';

/** `type: azure-openai` under `llm:`: chat completions of one Azure OpenAI deployment. */
export class AzureOpenAILLMConfig extends withAzureOpenAIFields(LLMInstanceConfig) {}

type Choice = ChatCompletionChunk['choices'][number];

/**
 * The OpenAI chat driver on Azure's connection, with Azure's stream brought back to OpenAI's shape.
 *
 * Azure sends its content filter's verdicts in chunks of their own: every stream starts with one
 * holding `prompt_filter_results` and no choices, and the asynchronous filter adds annotations later
 * (choices with `content_filter_offsets` and no delta); these have an empty `id`, `object` and `model`.
 * Callers must only ever see `chat.completion.chunk`s, so: choices with neither a delta nor a
 * finish_reason are left out; a chunk left with no choices and no usage carries nothing for the
 * caller and is dropped (the final usage chunk, no choices but usage, goes through); any other chunk
 * with a wrong object is mended, its empty id, created and model taken from the stream so far (the
 * request's model before any).
 */
export class AzureOpenAIChatDriver extends OpenAIChatDriver {
  override async *stream(messages: ChatCompletionMessageParam[], options: LLMCallOptions): AsyncGenerator<ChatCompletionChunk> {
    let seen: Pick<ChatCompletionChunk, 'id' | 'created' | 'model'> = { id: '', created: 0, model: this.model };
    for await (const chunk of super.stream(messages, options)) {
      const choices = carryingChoices(chunk.choices);
      if (choices.length === 0 && chunk.usage == null) continue;
      seen = { id: chunk.id || seen.id, created: chunk.created || seen.created, model: chunk.model || seen.model };
      yield chunk.object === 'chat.completion.chunk' && choices === chunk.choices ? chunk : { ...chunk, ...seen, object: 'chat.completion.chunk', choices };
    }
  }
}

/** The choices that carry something (a delta, a finish_reason), each with a delta; the same array when all do. */
function carryingChoices(choices: unknown): Choice[] {
  const all: unknown[] = Array.isArray(choices) ? choices : [];
  if (all.every((c) => isObject(c) && isObject(c.delta))) return all as Choice[];
  return all
    .filter((c): c is Choice => isObject(c) && (isObject(c.delta) || c.finish_reason != null))
    .map((c) => (isObject(c.delta) ? c : { ...c, delta: {} }));
}

/**
 * The OpenAI chat driver on the SDK's `AzureOpenAI` client: `{endpoint}/openai/deployments/{deployment}`,
 * `api-version`, the key as `api-key`. Streams always ask for usage (what the Python library missed).
 */
export const azureOpenAILLM = defineLLMProvider({
  type: 'azure-openai',
  config: AzureOpenAILLMConfig,
  description: 'Azure OpenAI chat completions of one deployment (endpoint, deployment, apiVersion, apiKey)',
  docs: {
    notes:
      `Takes endpoint (https://<resource>.openai.azure.com), deployment and apiKey (sent as api-key), apiVersion default ${AZURE_OPENAI_DEFAULT_API_VERSION}; ` +
      "model defaults to the deployment name; streams always ask for usage; the content filter's own stream chunks (prompt_filter_results, annotations) are dropped, so every chunk is a chat.completion.chunk.",
  },
  create: (config, context) => new AzureOpenAIChatDriver({ model: config.model ?? config.deployment }, context, createAzureHttpClient(config, context)),
});
