import { Global, Module, type DynamicModule } from '@nestjs/common';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from '../gateway-options.js';
import { ApiKeys } from '../auth/api-keys.js';
import { GatewayErrors } from './gateway-errors.js';
import { ModelResolver } from './models.js';

/** The resolved options, the client keys, the model resolver and the error answers, for every feature module. */
@Global()
@Module({})
export class CommonModule {
  static forRoot(options: ResolvedGatewayOptions): DynamicModule {
    return {
      module: CommonModule,
      providers: [{ provide: GATEWAY_OPTIONS, useValue: options }, ApiKeys, ModelResolver, GatewayErrors],
      exports: [GATEWAY_OPTIONS, ApiKeys, ModelResolver, GatewayErrors],
    };
  }
}
