import { Module, type DynamicModule } from '@nestjs/common';
import { ProvidersHealthModule, type ProvidersHealthOptions } from '@hush/providers/health';
import { HealthController } from './health.controller.js';

@Module({})
export class HealthModule {
  static forRoot(options: ProvidersHealthOptions = {}): DynamicModule {
    return { module: HealthModule, imports: [ProvidersHealthModule.forRoot(options)], controllers: [HealthController] };
  }
}
