import type { ProviderKind } from './provider-kind.js';

/** What a ping found: how many deployments were checked, and how many answered. */
export interface PingResult {
  deployments: number;
  reachable: number;
}

/**
 * What the three kinds share: an LLM, an embedder and a reranker are each a named instance of a
 * provider type, with a model, a free reachability check where the type has one, and the instances
 * tried after it when it fails.
 */
export interface ProviderInstance {
  readonly kind: ProviderKind;
  /** The instance's name from YAML (`llm.<name>`). */
  readonly name: string;
  /** The provider type (`openai`, `cohere`, ...). */
  readonly type: string;
  readonly model: string;
  /**
   * Checks for free that the service answers (never a billed call). Resolves with how many
   * deployments answered, or undefined when this type has no such check; rejects when none answered.
   */
  ping?(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<PingResult | undefined>;
  /** False when `ping` has nothing to check (no deployment's type has a free check). */
  readonly pingable?: boolean;
  /** The instances tried after this one, in order (none for an instance built outside the library). */
  readonly fallbacks?: readonly ProviderInstance[];
}
