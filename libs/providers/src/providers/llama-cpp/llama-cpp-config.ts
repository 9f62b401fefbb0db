import { IsBoolean, IsInt, IsNotEmpty, IsOptional, IsString, Max, Min } from '../../core/validation.js';
import { ToBoolean, ToNumber } from '../../core/config-fields.js';
import { isAbortError, ProviderError } from '../../core/provider-error.js';
import type { DriverContext } from '../../core/provider-definition.js';
import { EmbeddingInstanceConfig, LLMInstanceConfig, RerankerInstanceConfig } from '../../core/instance-config.js';
import { abortErrorOf } from '../../core/abort.js';

type ConfigClass = new (...args: any[]) => object;

/** The `type` of every llama-cpp provider, whatever its kind. */
export const LLAMA_CPP_TYPE = 'llama-cpp';

/** Answer length when neither the call nor `params` says (`max_tokens`). */
export const LLAMA_CPP_DEFAULT_MAX_TOKENS = 512;

/**
 * Sampling when the call does not say: llama.cpp's own defaults (llama-server uses the same), not
 * OpenAI's temperature 1 / top_p 1, which suit small local models badly.
 */
export const LLAMA_CPP_SAMPLING_DEFAULTS = { temperature: 0.8, top_p: 0.95, top_k: 40, min_p: 0.05 } as const;

/** Texts per embedding driver call; the library splits larger inputs and keeps their order. */
export const LLAMA_CPP_MAX_EMBEDDING_INPUTS = 256;

/** Documents per reranking driver call; the library splits larger sets and merges the scores. */
export const LLAMA_CPP_MAX_RERANK_DOCUMENTS = 256;

/** The keys every llama-cpp instance takes, whatever its kind. */
export function withLlamaCppFields<TBase extends ConfigClass>(Base: TBase) {
  class LlamaCppFields extends Base {
    /** A GGUF file (relative to the working directory), or a URI node-llama-cpp resolves with a network (hf:user/repo:Q4_K_M). */
    @IsString() @IsNotEmpty() model!: string;

    /** Tokens each sequence can see (prompt and answer); default: the model's training context, at most 4096 (llm) or 512 (embedding, reranker). */
    @IsOptional() @ToNumber() @IsInt() @Min(16) @Max(1_048_576) contextSize?: number;

    /** CPU threads for evaluation; 0: every core node-llama-cpp finds (the default), but 1 for the tiny random models, whose thread syncs cost more than their math. */
    @IsOptional() @ToNumber() @IsInt() @Min(0) @Max(1024) threads?: number;

    /** Calls served at once, each in its own sequence with its own contextSize of memory (more wait in a queue); default 1. */
    @IsOptional() @ToNumber() @IsInt() @Min(1) @Max(64) sequences?: number;

    /** Offload to a GPU when node-llama-cpp finds one (needs its GPU packages installed); default false: CPU only. */
    @IsOptional() @ToBoolean() @IsBoolean() gpu?: boolean;
  }
  return LlamaCppFields;
}

export type LlamaCppSite = Pick<DriverContext, 'name' | 'kind' | 'type'>;

/** A caller's mistake: not retryable. */
export function badInput(site: LlamaCppSite, message: string, code = 'bad-input'): ProviderError {
  return new ProviderError(`${site.kind} "${site.name}" (${site.type}): ${message}`, {
    instance: site.name,
    type: site.type,
    kind: site.kind,
    status: 400,
    retryable: false,
    code,
  });
}

/** Any failure inside node-llama-cpp as a ProviderError, or the abort error when the call was aborted. */
export function toLlamaCppError(err: unknown, site: LlamaCppSite, signal: AbortSignal): Error {
  if (signal.aborted) return abortErrorOf(signal);
  if (err instanceof ProviderError || isAbortError(err)) return err as Error;
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError(`${site.kind} "${site.name}" (${site.type}): ${message}`, {
    instance: site.name,
    type: site.type,
    kind: site.kind,
    retryable: false,
    cause: err,
    code: 'llama-cpp',
  });
}

/** Refused after close(). */
export function closedError(site: LlamaCppSite): ProviderError {
  return new ProviderError(`${site.kind} "${site.name}" (${site.type}) is closed: its model has been freed.`, {
    instance: site.name,
    type: site.type,
    kind: site.kind,
    retryable: false,
    code: 'closed',
  });
}

// The config classes of the three kinds sit here, beside what they share, so that each driver and its
// definition both import them from this file rather than from each other.

/** `type: llama-cpp` under `llm:`: a GGUF chat model run in process by node-llama-cpp. */
export class LlamaCppLLMConfig extends withLlamaCppFields(LLMInstanceConfig) {
  /** Default answer length in tokens when a call gives no max_tokens; default 512 (always capped by the context left). */
  @IsOptional() @ToNumber() @IsInt() @Min(1) @Max(1_048_576) maxTokens?: number;
}

/** `type: llama-cpp` under `embedding:`: a GGUF embedding model run in process by node-llama-cpp. */
export class LlamaCppEmbedderConfig extends withLlamaCppFields(EmbeddingInstanceConfig) {
  /** Put before every text embedded with inputType 'query' (models such as e5 or nomic want "query: " / "search_query: "). */
  @IsOptional() @IsString() queryPrefix?: string;

  /** Put before every text embedded with inputType 'document' ("passage: ", "search_document: ", ...). */
  @IsOptional() @IsString() documentPrefix?: string;
}

/** `type: llama-cpp` under `reranker:`: a GGUF cross-encoder reranker run in process by node-llama-cpp. */
export class LlamaCppRerankerConfig extends withLlamaCppFields(RerankerInstanceConfig) {}
