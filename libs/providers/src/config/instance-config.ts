import {
  IsArray,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Max,
  Min,
} from 'class-validator';
import { ToNumber } from './config-fields.js';

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

  /** Requests per minute, enforced in process. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) rpm?: number;

  /** Tokens per minute, enforced in process. */
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

  /** Several deployments sharing this name, load-balanced; keys beside `deployments` apply to each. */
  // Each entry is validated by the loader against this same type's class, merged over the keys beside it.
  @IsOptional() @IsArray() deployments?: Array<Record<string, unknown> & { weight?: number }>;
}

export class LLMInstanceConfig extends InstanceConfig {
  /** Default call parameters, by OpenAI's names (`max_tokens`, `temperature`, ...); a call's options override them. */
  @IsOptional() @IsObject() params?: Record<string, unknown>;
}

export class EmbeddingInstanceConfig extends InstanceConfig {
  /** Vector length: sent where the service supports it, always checked. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) @Max(65536) dimensions?: number;

  /** Inputs per request; default and maximum: the service's own limit. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) batchSize?: number;
}

export class RerankerInstanceConfig extends InstanceConfig {
  /** Documents per request; default and maximum: the service's own limit. */
  @IsOptional() @ToNumber() @IsInt() @Min(1) batchSize?: number;
}
