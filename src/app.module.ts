import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ProvidersModule } from '@hush/providers';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ChatModule } from './chat/chat.module.js';
import { CommonModule } from './common/common.module.js';
import { OpenAIExceptionFilter } from './common/openai-exception.filter.js';
import { createValidationPipe } from './common/validation.js';
import { EmbeddingsModule } from './embeddings/embeddings.module.js';
import { resolveGatewayOptions, type GatewayOptions } from './gateway-options.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ModelsModule } from './models/models.module.js';
import { GatewayObservability } from './observability/observability.js';
import { RequestIdTransport } from './observability/request-id-transport.js';
import { RerankModule } from './rerank/rerank.module.js';

/**
 * The gateway: the providers named in the config, exposed over OpenAI's HTTP API.
 * `AppModule.forRoot()` reads everything from the environment; tests pass options instead.
 * `observability` is made by `createApp` before Nest (the SDK, the loggers); without it, requests
 * still get ids and upstream headers, but no SDK is started and /metrics is not served.
 */
@Module({})
export class AppModule {
  static forRoot(options: GatewayOptions = {}, observability: GatewayObservability = GatewayObservability.bare()): DynamicModule {
    const resolved = resolveGatewayOptions(options);
    const upstream = new RequestIdTransport(observability.requests, options.providers?.transport);
    return {
      module: AppModule,
      imports: [
        // No upstream address leaves the gateway: /metrics is readable with a client key (spans keep it).
        ProvidersModule.forRoot({
          watch: resolved.watchConfig,
          ...options.providers,
          transport: upstream,
          telemetry: { serverAddressOnMetrics: false, ...options.providers?.telemetry },
        }),
        CommonModule.forRoot(resolved, observability),
        ChatModule,
        EmbeddingsModule,
        RerankModule,
        ModelsModule,
        HealthModule.forRoot(resolved.health),
        ...(observability.telemetry ? [MetricsModule] : []),
      ],
      providers: [
        // A value provider so that Nest closes it with the app.
        { provide: RequestIdTransport, useValue: upstream },
        { provide: APP_FILTER, useClass: OpenAIExceptionFilter },
        // Without client keys every route is open: no guard to run on each request.
        ...(resolved.apiKeys.length > 0 ? [{ provide: APP_GUARD, useClass: ApiKeyGuard }] : []),
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}
