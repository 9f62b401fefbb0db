import { Module, type DynamicModule } from '@nestjs/common';
import { PROVIDER_KINDS } from '../core/provider-kind.js';
import { instanceProvider, ProvidersCoreModule } from './providers-core.module.js';
import { prepareConfig } from './prepare-config.js';
import type { DeclaredNames, ProvidersModuleAsyncOptions, ProvidersModuleOptions } from './providers-options.js';

/**
 * Binds every LLM, embedder and reranker named in the providers YAML to an injection token.
 *
 * ```ts
 * @Module({ imports: [ProvidersModule.forRoot()] })
 * export class AppModule {}
 * ```
 */
@Module({})
export class ProvidersModule {
  /**
   * Reads the config now (synchronously), so that every name gets its token; problems are thrown
   * as one ProvidersConfigError when the application bootstraps.
   */
  static forRoot(options: ProvidersModuleOptions = {}): DynamicModule {
    const prepared = prepareConfig(options);
    const core = ProvidersCoreModule.forRoot(prepared, options.isGlobal ?? true, {
      shutdownGraceMs: options.shutdownGraceMs,
      tokenProviders: options.tokenProviders,
      transport: options.transport,
      telemetry: options.telemetry,
      reread: () => prepareConfig(options),
      watch: options.watch ? prepared.watched : undefined,
    });
    return { module: ProvidersModule, imports: [core], exports: [core] };
  }

  /**
   * The options come from a factory (e.g. with ConfigService). Names the module must bind before the
   * factory runs are declared in `names`; the defaults of each kind are bound as well.
   */
  static forRootAsync(options: ProvidersModuleAsyncOptions): DynamicModule {
    const withDefaults = ProvidersCoreModule.forRootAsync(options);
    return { module: ProvidersModule, imports: [withDefaults], exports: [withDefaults] };
  }

  /**
   * Binds named instances in a feature module, from the registry of a `forRoot`/`forRootAsync`
   * imported elsewhere: the way to inject names that were not declared up front.
   */
  static forFeature(names: DeclaredNames): DynamicModule {
    const providers = PROVIDER_KINDS.flatMap((kind) => (names[kind] ?? []).map((name) => instanceProvider(kind, name)));
    return { module: ProvidersModule, providers, exports: providers.map((p) => p.provide) };
  }
}
