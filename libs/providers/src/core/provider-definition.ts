import type { LoggerService } from '@nestjs/common';
import type { EmbedderDriver } from './embedder.js';
import type { LLMDriver } from './llm.js';
import type { RerankerDriver } from './reranker.js';
import type { EmbeddingInstanceConfig, InstanceConfig, LLMInstanceConfig, RerankerInstanceConfig } from './instance-config.js';
import type { ProviderKind } from './provider-kind.js';
import type { HttpTransport } from './transport.js';

export interface DriverOfKind {
  llm: LLMDriver;
  embedding: EmbedderDriver;
  reranker: RerankerDriver;
}

export interface ConfigOfKind {
  llm: LLMInstanceConfig;
  embedding: EmbeddingInstanceConfig;
  reranker: RerankerInstanceConfig;
}

/** What a driver factory is handed besides its validated config. */
export interface DriverContext {
  /** The instance's name from YAML (`llm.<name>`). */
  readonly name: string;
  readonly kind: ProviderKind;
  readonly type: string;
  /** A logger named after the instance; secrets must never be passed to it. */
  readonly logger: LoggerService;
  /** The largest answer (a JSON body, one event of a stream) to read: the instance's `maxResponseBytes`. */
  readonly maxResponseBytes?: number;
  /**
   * The registry's HTTP transport (a keep-alive pool per origin, closed with the registry). Absent
   * for a driver made outside a registry: `HttpClient` then makes one of its own.
   */
  readonly transport?: HttpTransport;
  /** The token providers given to the module (`forRoot({ tokenProviders })`), by name. */
  readonly tokenProviders?: Readonly<Record<string, TokenProvider>>;
}

/**
 * Gives a bearer token for a service that takes one instead of a key (Azure's Entra ID): called
 * before each request, so it should cache its token until shortly before it expires, as
 * `@azure/identity`'s `getBearerTokenProvider` does.
 */
export type TokenProvider = () => Promise<string> | string;

export interface ProviderDocs {
  /** The `baseUrl` used when the YAML gives none (absent where `baseUrl` is required). */
  defaultBaseUrl?: string;
  /** Inputs (embedding) or documents (reranker) per request: the service's own limit. */
  batchLimit?: number;
  /** Anything else a user must know, in one sentence. */
  notes?: string;
}

/**
 * A provider type: its kind, its YAML `type`, its config class (class-validator decorators; any key
 * without one is refused), and a factory for its driver. This is the whole of what registration needs.
 */
export interface ProviderDefinition<K extends ProviderKind = ProviderKind, C extends InstanceConfig = InstanceConfig> {
  readonly kind: K;
  readonly type: string;
  readonly config: new () => C;
  /** One line for error messages and docs. */
  readonly description?: string;
  /** Facts for docs/providers.md (checked against the code by a test). */
  readonly docs?: ProviderDocs;
  create(config: C, context: DriverContext): DriverOfKind[K] | Promise<DriverOfKind[K]>;
}

type DefinitionInput<K extends ProviderKind, C extends ConfigOfKind[K]> = Omit<ProviderDefinition<K, C>, 'kind'>;

export function defineLLMProvider<C extends LLMInstanceConfig>(def: DefinitionInput<'llm', C>): ProviderDefinition<'llm', C> {
  return { ...def, kind: 'llm' };
}

export function defineEmbeddingProvider<C extends EmbeddingInstanceConfig>(def: DefinitionInput<'embedding', C>): ProviderDefinition<'embedding', C> {
  return { ...def, kind: 'embedding' };
}

export function defineRerankerProvider<C extends RerankerInstanceConfig>(def: DefinitionInput<'reranker', C>): ProviderDefinition<'reranker', C> {
  return { ...def, kind: 'reranker' };
}

/** Any definition, whatever its kind and config class (for lists of them). */

export type AnyProviderDefinition = ProviderDefinition<ProviderKind, any>;
