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
