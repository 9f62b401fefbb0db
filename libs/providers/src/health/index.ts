/**
 * `@hush/providers/health`: `@nestjs/terminus` health indicators for the configured instances.
 * A separate entry point, so that `@nestjs/terminus` stays an optional peer dependency.
 */
export {
  PROVIDERS_HEALTH_OPTIONS,
  ProvidersHealthIndicator,
  type ProviderHealthDetails,
  type ProvidersHealthOptions,
  type ProvidersProbe,
  type ProvidersProbeContext,
} from './providers-health.indicator.js';
export { ProvidersHealthModule } from './providers-health.module.js';
export { CLIENT_ERROR_STATUSES, describeFailure, withoutAddresses, type FailureDescription } from './failure.js';
