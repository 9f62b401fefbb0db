/** The three kinds, named as the YAML sections that hold them. */
export const PROVIDER_KINDS = ['llm', 'embedding', 'reranker'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

export function isProviderKind(value: unknown): value is ProviderKind {
  return typeof value === 'string' && (PROVIDER_KINDS as readonly string[]).includes(value);
}
