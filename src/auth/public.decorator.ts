import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'gateway:public-route';

/** Marks a controller or route as open even when gateway keys are configured (health checks). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

export const METRICS_ROUTE = 'gateway:metrics-route';

/**
 * Marks the metrics route: open when the gateway's `metricsPublic` is on (`GATEWAY_METRICS_PUBLIC=true`),
 * else it needs a client key like the /v1 routes.
 */
export const MetricsRoute = () => SetMetadata(METRICS_ROUTE, true);
