import { Injectable } from '@nestjs/common';
import { PROVIDER_KINDS, ProvidersRegistry, type InstanceOfKind, type ProviderKind } from '@hush/providers';
import { RequestContext } from '../observability/request-context.js';
import { OpenAIError } from './openai-error.js';

/** How each kind is called in messages, and the route that serves it. */
export const KIND_INFO: Record<ProviderKind, { label: string; plural: string; route: string }> = {
  llm: { label: 'a chat model', plural: 'Chat models', route: 'POST /v1/chat/completions' },
  embedding: { label: 'an embedding model', plural: 'Embedding models', route: 'POST /v1/embeddings' },
  reranker: { label: 'a rerank model', plural: 'Rerank models', route: 'POST /v1/rerank' },
};

/**
 * Turns the request's `model` into a configured instance of the route's kind, through
 * ProvidersRegistry (names are only known at run time, so this is the registry's job, not @InjectLLM's).
 * Unknown name: 404 `model_not_found`. A name of another kind: 404 `model_wrong_kind`, saying which route serves it.
 */
@Injectable()
export class ModelResolver {
  constructor(
    private readonly registry: ProvidersRegistry,
    private readonly requests: RequestContext,
  ) {}

  resolve<K extends ProviderKind>(kind: K, model: string): InstanceOfKind[K] {
    // The request's access log line names the model asked for, found or not (not all of a huge one).
    const request = this.requests.current();
    if (request) request.model = model.length > 256 ? `${model.slice(0, 256)}…` : model;
    if (this.registry.has(kind, model)) return this.registry.get(kind, model);
    const names = this.registry.names(kind);
    const available = names.length ? `${KIND_INFO[kind].plural} here: ${names.join(', ')}.` : `No ${KIND_INFO[kind].label.replace(/^an? /, '')} is configured.`;
    const other = PROVIDER_KINDS.find((k) => k !== kind && this.registry.has(k, model));
    if (other) {
      throw new OpenAIError(404, {
        message: `The model \`${model}\` is ${KIND_INFO[other].label}, not ${KIND_INFO[kind].label}: use it with ${KIND_INFO[other].route}. ${available}`,
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_wrong_kind',
      });
    }
    throw new OpenAIError(404, {
      message: `The model \`${model}\` does not exist. ${available} GET /v1/models lists every model.`,
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
  }
}
