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
