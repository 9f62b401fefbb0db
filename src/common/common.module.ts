import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from '../gateway-options.js';
import { ApiKeys } from '../auth/api-keys.js';
import { GatewayObservability } from '../observability/observability.js';
import { RequestContext } from '../observability/request-context.js';
import { ConfigReloadOnSignal } from './config-reload.js';
import { GatewayErrors } from './gateway-errors.js';
import { ModelResolver } from './models.js';

/** Shuts the gateway's telemetry down (flushing its spans) when the app closes. */
@Injectable()
class ObservabilityShutdown implements OnApplicationShutdown {
  constructor(@Inject(GatewayObservability) private readonly observability: GatewayObservability) {}

  onApplicationShutdown(): Promise<void> {
    return this.observability.shutdown();
  }
}

/**
 * The resolved options, the client keys, the model resolver, the error answers, and the request
 * context and observability (made before Nest, see `createApp`), for every feature module.
 */
@Global()
@Module({})
export class CommonModule {
  static forRoot(options: ResolvedGatewayOptions, observability: GatewayObservability): DynamicModule {
    return {
      module: CommonModule,
      providers: [
        { provide: GATEWAY_OPTIONS, useValue: options },
        { provide: GatewayObservability, useValue: observability },
        { provide: RequestContext, useValue: observability.requests },
        ObservabilityShutdown,
        ConfigReloadOnSignal,
        ApiKeys,
        ModelResolver,
        GatewayErrors,
      ],
      exports: [GATEWAY_OPTIONS, GatewayObservability, RequestContext, ApiKeys, ModelResolver, GatewayErrors],
    };
  }
}
