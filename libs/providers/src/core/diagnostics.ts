import type { ReloadResult } from './reload-result.js';
import { channel } from 'node:diagnostics_channel';

/**
 * Every ProviderError and ProvidersConfigError the library creates is published here, as it is
 * created (whether or not anyone catches it): for metrics, logs or tests. Subscribe with
 * `diagnostics_channel.subscribe(PROVIDER_ERROR_CHANNEL, (error) => ...)`. Messages are already
 * free of secrets.
 */
export const PROVIDER_ERROR_CHANNEL = 'hush.providers:error';

const errors = channel(PROVIDER_ERROR_CHANNEL);

export function publishError(error: Error): void {
  if (errors.hasSubscribers) errors.publish(error);
}

/** Published before each retry: which instance, which attempt failed, how long the wait is, and why. */
export const PROVIDER_RETRY_CHANNEL = 'hush.providers:retry';

/** Published when a call moves on to a fallback: from which instance, to which, and why. */
export const PROVIDER_FALLBACK_CHANNEL = 'hush.providers:fallback';

export interface RetryEvent {
  kind: string;
  instance: string;
  type: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  waitMs: number;
  error: Error;
}

export interface FallbackEvent {
  kind: string;
  from: string;
  to: string;
  error: Error;
}

const retries = channel(PROVIDER_RETRY_CHANNEL);
const fallbacks = channel(PROVIDER_FALLBACK_CHANNEL);

export function publishRetry(event: RetryEvent): void {
  if (retries.hasSubscribers) retries.publish(event);
}

export function publishFallback(event: FallbackEvent): void {
  if (fallbacks.hasSubscribers) fallbacks.publish(event);
}

/**
 * Published when a call ends, whichever way: for logs, billing or metrics without OpenTelemetry.
 * Subscribe with `diagnostics_channel.subscribe(PROVIDER_CALL_CHANNEL, (event: CallEvent) => ...)`.
 */
export const PROVIDER_CALL_CHANNEL = 'hush.providers:call';

export interface CallEvent {
  /** The instance's name (the one called; `fallback` says which one answered). */
  instance: string;
  kind: string;
  type: string;
  model: string;
  /** `chat`, `embeddings` or `rerank`. */
  operation: string;
  durationMs: number;
  /** Streams: from the call to the first chunk. */
  timeToFirstChunkMs?: number;
  /** Tokens, as the service reported them (0 where it reported none). */
  usage: { input: number; output: number };
  /** US dollars, from the answering instance's `pricing`; 0 without one. */
  costUsd: number;
  outcome: 'ok' | 'error';
  /** When the outcome is an error: the upstream's HTTP status (`'401'`), else the library's code (`timeout`, ...), `aborted` for a cancelled call. */
  error?: string;
  /** How many attempts the call made (retries and fallbacks included). */
  attempts: number;
  /** The fallback that answered, when one did. */
  fallback?: string;
  /** On an instance with `cache:`: `hit` (nothing sent upstream, no cost), `partial` (embeddings: some texts sent) or `miss`. */
  cache?: 'hit' | 'partial' | 'miss';
}

const calls = channel(PROVIDER_CALL_CHANNEL);

export function callsObserved(): boolean {
  return calls.hasSubscribers;
}

export function publishCall(event: CallEvent): void {
  if (calls.hasSubscribers) calls.publish(event);
}

/**
 * Published when this process loses its Redis store (and uses its own memory) and when Redis
 * answers again: `diagnostics_channel.subscribe(STORE_CHANNEL, (event: StoreEvent) => ...)`.
 */
export const STORE_CHANNEL = 'hush.providers:store';

export interface StoreEvent {
  store: 'redis';
  /** `host:port` (never the URL: it may hold a password). */
  address: string;
  state: 'unavailable' | 'available';
  /** Why it became unavailable: `connection refused`, `wrong password`, `no answer within 250 ms`, ... */
  reason?: string;
}

/**
 * Published after every reload of the providers config (`ProvidersRegistry.reload`, a watched file, the
 * gateway's SIGHUP): what changed, by key names only, or why the new config was refused.
 */
export const RELOAD_CHANNEL = 'hush.providers:reload';

export type ReloadEvent = ({ ok: true } & ReloadResult) | { ok: false; error: string };

const reloads = channel(RELOAD_CHANNEL);

export function publishReload(event: ReloadEvent): void {
  if (reloads.hasSubscribers) reloads.publish(event);
}
