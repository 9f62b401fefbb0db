import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PROVIDERS_HEALTH_OPTIONS, ProvidersHealthIndicator, type ProvidersHealthOptions } from './providers-health.indicator.js';

/**
 * Provides `ProvidersHealthIndicator` (and re-exports `TerminusModule`, so `HealthCheckService` is
 * injectable beside it). Needs `ProvidersModule` (or `ProvidersTestingModule`) imported somewhere global.
 *
 * ```ts
 * @Module({ imports: [ProvidersHealthModule.forRoot({ timeoutMs: 2000 })], controllers: [HealthController] })
 * export class HealthModule {}
 * ```
 */
@Module({})
export class ProvidersHealthModule {
  static forRoot(options: ProvidersHealthOptions = {}): DynamicModule {
    return {
      module: ProvidersHealthModule,
      imports: [TerminusModule],
      providers: [{ provide: PROVIDERS_HEALTH_OPTIONS, useValue: options }, ProvidersHealthIndicator],
      exports: [ProvidersHealthIndicator, PROVIDERS_HEALTH_OPTIONS, TerminusModule],
    };
  }
}
