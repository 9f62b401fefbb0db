import type { EmbeddingPricing, LLMPricing, RerankerPricing } from '../core/instance-config.js';

/** Tokens a call used, as the service reported them. */
export interface TokenUsage {
  input: number;
  output: number;
  /** Input tokens read from the provider's prompt cache (part of `input`). */
  cachedInput?: number;
}

export type Pricing = LLMPricing | EmbeddingPricing | RerankerPricing;

const PER_MILLION = 1_000_000;

/** What a call cost in US dollars by its instance's `pricing`: tokens for LLMs and embedders, searches for rerankers. */
export function costOf(pricing: Pricing | undefined, usage: TokenUsage, searches: number): number {
  if (!pricing) return 0;
  if ('perSearch' in pricing) return pricing.perSearch * searches;
  const cached = Math.min(usage.cachedInput ?? 0, usage.input);
  if ('outputPerMTok' in pricing) {
    const cachedPrice = pricing.cachedInputPerMTok ?? pricing.inputPerMTok;
    return ((usage.input - cached) * pricing.inputPerMTok + cached * cachedPrice + usage.output * pricing.outputPerMTok) / PER_MILLION;
  }
  return (usage.input * pricing.inputPerMTok) / PER_MILLION;
}
