import { Injectable } from '@nestjs/common';
import { PROVIDER_KINDS, ProvidersRegistry, type ProviderKind } from '@hush/providers';
import { OpenAIError } from '../common/openai-error.js';

/** An OpenAI model object, plus the kind of the configured instance it names. */
export interface GatewayModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  kind: ProviderKind;
}

@Injectable()
export class ModelsService {
  /** The gateway's start: configured names have no creation date of their own. */
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly registry: ProvidersRegistry) {}

  /** Every configured name, kind by kind in YAML order. A name used in two kinds is listed twice. */
  list(): { object: 'list'; data: GatewayModel[] } {
    return {
      object: 'list',
      data: PROVIDER_KINDS.flatMap((kind) => this.registry.names(kind).map((name) => this.describe(kind, name))),
    };
  }

  /** One name (the first kind that has it: llm, embedding, reranker). */
  retrieve(id: string): GatewayModel {
    const kind = PROVIDER_KINDS.find((k) => this.registry.has(k, id));
    if (!kind) {
      throw new OpenAIError(404, { message: `The model \`${id}\` does not exist.`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
    }
    return this.describe(kind, id);
  }

  private describe(kind: ProviderKind, name: string): GatewayModel {
    // owned_by: the provider type that serves the name (openai, openai-compatible, ...).
    return { id: name, object: 'model', created: this.created, owned_by: this.registry.get(kind, name).type, kind };
  }
}
