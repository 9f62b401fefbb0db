import { createRequire } from 'node:module';

/**
 * `@opentelemetry/api`, an optional peer: loaded on first use, and undefined when the app has not
 * installed it. With it installed but no SDK registered, its tracer and meter do nothing, and the
 * library skips its own work for them too (see telemetry/).
 */
export type OpenTelemetryApi = typeof import('@opentelemetry/api');

const requireHere = createRequire(import.meta.url);
let api: OpenTelemetryApi | null | undefined;

export function openTelemetry(): OpenTelemetryApi | undefined {
  if (api === undefined) {
    try {
      api = requireHere('@opentelemetry/api') as OpenTelemetryApi;
    } catch {
      api = null;
    }
  }
  return api ?? undefined;
}
