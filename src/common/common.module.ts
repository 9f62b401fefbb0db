import { Global, Module, type DynamicModule } from '@nestjs/common';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from '../gateway-options.js';
import { ModelResolver } from './models.js';

/** The resolved options and the model resolver, for every feature module. */
@Global()
@Module({})
export class CommonModule {
  static forRoot(options: ResolvedGatewayOptions): DynamicModule {
    return {
      module: CommonModule,
      providers: [{ provide: GATEWAY_OPTIONS, useValue: options }, ModelResolver],
      exports: [GATEWAY_OPTIONS, ModelResolver],
    };
  }
}
