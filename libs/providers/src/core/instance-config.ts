import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  Min,
  Type,
  ValidateBy,
  ValidateNested,
} from './validation.js';
import { ToBoolean, ToNumber } from './config-fields.js';

/** An instance's cache: in this process's LRU, or in Redis with a `redis` store. */
export class CacheConfig {
  /** How long an answer stays cached, ms. */
  @ToNumber() @IsInt() @Min(1) ttlMs!: number;
}

/**
 * Keys every instance accepts, whatever its type. A provider type's config class extends the kind's
 * class below and adds its own fields with class-validator decorators; an undecorated key is refused.
 */
export class InstanceConfig {
  /** Picks the provider implementation. */
  @IsString() @IsNotEmpty() type!: string;

  /** Deadline of one logical call (retries and fallbacks included), ms. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) timeoutMs?: number;

  /** The longest one attempt may take before it is abandoned and retried (or a fallback tried), ms; none by default. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) attemptTimeoutMs?: number;

  /** Backoff before retry n: a random wait up to min(backoffMaxMs, backoffBaseMs · 2ⁿ), ms; default 500. */
  @IsOptional() @ToNumber() @IsInt() @Min(0) backoffBaseMs?: number;

  /** The longest backoff between two attempts, ms; default 8000. */
  @IsOptional() @ToNumber() @IsInt() @Min(0) backoffMaxMs?: number;

  /** Retries after the first attempt, for retryable failures only. */
  @IsOptional() @ToNumber() @IsInt() @Min(0) @Max(10) maxRetries?: number;

  /** Streams: the longest wait between two chunks, ms. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) idleTimeoutMs?: number;

  /** Other names of the same kind to try, in order, when this one fails for a retryable reason. */
  @IsOptional() @IsArray() @IsString({ each: true }) @IsNotEmpty({ each: true }) fallbacks?: string[];

  /** Calls in flight at once; further calls wait in a queue. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) maxConcurrency?: number;

  /** Requests per minute: in this process, or across every process on a shared `store`. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) rpm?: number;

  /** Tokens per minute: in this process, or across every process on a shared `store`. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) tpm?: number;

  /** Calls that may wait for a slot when `maxConcurrency` are in flight; one more is refused at once. */
  @IsOptional() @ToNumber() @IsInt() @Min(0) maxQueue?: number;

  /** How `deployments` share the traffic: `weighted-random` (default) or `least-in-flight`. */
  @IsOptional() @IsIn(['weighted-random', 'least-in-flight']) routing?: 'weighted-random' | 'least-in-flight';

  /** How long a deployment stays out after `cooldownFailures` retryable failures in a row, ms; 0: never. */
  @IsOptional() @ToNumber() @IsInt() @Min(0) cooldownMs?: number;

  /** Retryable failures in a row that put a deployment in cooldown. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) cooldownFailures?: number;

  /** The longest Retry-After honoured, ms; a longer one ends the attempts (a fallback may take over). */
  @IsOptional() @ToNumber() @IsInt() @Min(0) retryAfterMaxMs?: number;

  /** The largest answer read from the service: a JSON body, or one event of a stream, in bytes; default 32 MiB. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) maxResponseBytes?: number;

  /** Cache this instance's answers (per text for embedders); a hit spends nothing. See docs/scale-out.md. */
  @IsOptional() @IsObject() @ValidateNested() @Type(() => CacheConfig) cache?: CacheConfig;

  /** Several deployments sharing this name, load-balanced; keys beside `deployments` apply to each. */
  // Each entry is validated by the loader against this same type's class, merged over the keys beside it.
  @IsOptional() @IsArray() deployments?: Array<Record<string, unknown> & { weight?: number }>;
}

/** What an LLM's calls cost, US dollars per million tokens. */
export class LLMPricing {
  /** Input (prompt) tokens. */
  @ToNumber() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) inputPerMTok!: number;

  /** Input tokens read from the provider's prompt cache; default: the input price. */
  @IsOptional() @ToNumber() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) cachedInputPerMTok?: number;

  /** Output (completion) tokens, reasoning tokens included. */
  @ToNumber() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) outputPerMTok!: number;
}

/** What an embedder's calls cost, US dollars per million input tokens. */
export class EmbeddingPricing {
  /** Input tokens. */
  @ToNumber() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) inputPerMTok!: number;
}

/** What a reranker's calls cost, US dollars per search (one query, however many documents and requests). */
export class RerankerPricing {
  /** One search: one query, whatever the documents and requests. */
  @ToNumber() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) perSearch!: number;
}

export class LLMInstanceConfig extends InstanceConfig {
  /** Default call parameters, by OpenAI's names (`max_tokens`, `temperature`, ...); a call's options override them. */
  @IsOptional() @IsObject() @WithinTokenCap() params?: Record<string, unknown>;

  /** Call parameters sent with every call, over the call's own options: what no caller can change (`service_tier: default`). */
  @IsOptional() @IsObject() @WithinTokenCap() fixedParams?: Record<string, unknown>;

  /** Call parameters a caller may not set (`store`, `metadata`, `service_tier`, ...): a call that sets one is refused. */
  @IsOptional() @IsArray() @IsString({ each: true }) @IsNotEmpty({ each: true }) refusedParams?: string[];

  /**
   * The most output tokens a call may ask for (`max_tokens`, `max_completion_tokens`): a call asking
   * for more is refused, and a call asking for no limit is sent this one.
   */
  @IsOptional() @ToNumber() @IsInt() @Min(1) maxTokensCap?: number;

  /** Prices of this instance's tokens, for the cost of each call (span, metric, call event). */
  @IsOptional() @IsObject() @ValidateNested() @Type(() => LLMPricing) pricing?: LLMPricing;

  /** Record messages and answers on the call's span (OpenTelemetry's opt-in); default off. */
  @IsOptional() @ToBoolean() @IsBoolean() captureContent?: boolean;
}

const TOKEN_LIMIT_PARAMS = ['max_tokens', 'max_completion_tokens'] as const;

/** A map of call parameters whose `max_tokens` / `max_completion_tokens` stay within the entry's `maxTokensCap`. */
function WithinTokenCap(): PropertyDecorator {
  const over = (value: unknown, cap: unknown) =>
    typeof cap === 'number' && typeof value === 'object' && value !== null
      ? TOKEN_LIMIT_PARAMS.find(
          (key) => typeof (value as Record<string, unknown>)[key] === 'number' && ((value as Record<string, number>)[key] as number) > cap,
        )
      : undefined;
  return ValidateBy({
    name: 'withinTokenCap',
    validator: {
      validate: (value: unknown, args) => over(value, (args?.object as LLMInstanceConfig).maxTokensCap) === undefined,
      defaultMessage: (args) => {
        const key = over(args?.value, (args?.object as LLMInstanceConfig).maxTokensCap)!;
        return `$property asks for ${key} ${(args?.value as Record<string, number>)[key]}, above maxTokensCap ${(args?.object as LLMInstanceConfig).maxTokensCap}`;
      },
    },
  });
}

export class EmbeddingInstanceConfig extends InstanceConfig {
  /** Price of this instance's input tokens, for the cost of each call. */
  @IsOptional() @IsObject() @ValidateNested() @Type(() => EmbeddingPricing) pricing?: EmbeddingPricing;

  /** Vector length: sent where the service supports it, always checked. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) @Max(65536) dimensions?: number;

  /** Inputs per request; default and maximum: the service's own limit. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) batchSize?: number;
}

export class RerankerInstanceConfig extends InstanceConfig {
  /** Price of one search, for the cost of each call. */
  @IsOptional() @IsObject() @ValidateNested() @Type(() => RerankerPricing) pricing?: RerankerPricing;

  /** Documents per request; default and maximum: the service's own limit. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) batchSize?: number;
}
