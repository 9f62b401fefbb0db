import type { ProviderKind } from './provider-kind.js';

/**
 * Where a call goes: what every message about it names (`llm "chat" (openai)`), and what it must
 * never show. The same type serves the policy (which knows the instance) and the transport (which
 * also knows the service's address and the secrets sent to it).
 */
export interface CallSite {
  readonly kind: ProviderKind;
  /** The instance's name from YAML. */
  readonly name: string;
  /** The provider type (`openai`, `cohere`, ...). */
  readonly type: string;
  /** The service's API root, for connection errors; shown without credentials or query. */
  readonly baseUrl?: string;
  /** The API key and header values sent to the service: replaced by `***` in every message. */
  readonly secrets?: readonly string[];
  /** Removes the instance's own secrets (and the key shapes services echo) from a text. */
  redact?(text: string): string;
}

/** A call site that reaches a service over HTTP: its address and secrets are known. */
export type HttpCallSite = CallSite & { readonly baseUrl: string; readonly secrets: readonly string[] };

/** `llm "chat" (openai)`: how every message names its call site. */
export function describeSite(site: CallSite): string {
  return `${site.kind} "${site.name}" (${site.type})`;
}

/** The fields of a ProviderError that say where it happened. */
export function siteOf(site: CallSite): { instance: string; type: string; kind: ProviderKind } {
  return { instance: site.name, type: site.type, kind: site.kind };
}
