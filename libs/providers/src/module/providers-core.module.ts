import { Module, type DynamicModule, type FactoryProvider, type Provider } from '@nestjs/common';
import type { ProvidersConfigError } from '../core/config-error.js';
import type { ResolvedConfig } from '../config/validate-config.js';
import { createRegistry, type RegistryOptions, type ReloadOptions } from './create-registry.js';
import { PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';
import { ProvidersRegistry } from '../registry/providers-registry.js';
import { defaultInstanceProvider } from './default-instance.provider.js';
import { prepareConfig } from './prepare-config.js';
import type { DeclaredNames, ProvidersModuleAsyncOptions } from './providers-options.js';
import { getProviderToken } from './tokens.js';

const ASYNC_OPTIONS = Symbol('hush.providers.asyncOptions');

/** A token bound to the registry's instance of that name (or the kind's default, without a name). */
export function instanceProvider(kind: ProviderKind, name?: string): FactoryProvider {
  return {
    provide: getProviderToken(kind, name),
    useFactory: (registry: ProvidersRegistry) => registry.get(kind, name),
    inject: [ProvidersRegistry],
  };
}

/**
 * Owns the instances: creates them at bootstrap, binds them to tokens, and closes them on
 * application shutdown (through ProvidersRegistry.onApplicationShutdown).
 */
@Module({})
export class ProvidersCoreModule {
  static forRoot(
    prepared: { resolved: ResolvedConfig; error?: ProvidersConfigError },
    isGlobal: boolean,
    registryOptions: RegistryOptions & ReloadOptions = {},
  ): DynamicModule {
    const { resolved, error } = prepared;
    const registry: Provider = {
      provide: ProvidersRegistry,
      // A config error surfaces here, during bootstrap, with every problem in it.
      useFactory: async () => {
        if (error) throw error;
        return createRegistry(resolved, registryOptions);
      },
    };
    const names: DeclaredNames = Object.fromEntries(PROVIDER_KINDS.map((kind) => [kind, [...resolved.instances[kind].keys()]]));
    return ProvidersCoreModule.assemble(isGlobal, [registry], names);
  }

  static forRootAsync(options: ProvidersModuleAsyncOptions): DynamicModule {
    const registry: Provider = {
      provide: ProvidersRegistry,
      useFactory: async (factoryOptions: Awaited<ReturnType<ProvidersModuleAsyncOptions['useFactory']>>) => {
        const configOptions = { ...factoryOptions, providers: [...(options.providers ?? []), ...(factoryOptions?.providers ?? [])] };
        const prepared = prepareConfig(configOptions);
        if (prepared.error) throw prepared.error;
        return createRegistry(prepared.resolved, {
          shutdownGraceMs: factoryOptions?.shutdownGraceMs,
          tokenProviders: factoryOptions?.tokenProviders,
          transport: factoryOptions?.transport,
          telemetry: factoryOptions?.telemetry,
          reread: () => prepareConfig(configOptions),
          watch: factoryOptions?.watch ? prepared.watched : undefined,
        });
      },
      inject: [ASYNC_OPTIONS],
    };
    const factory: Provider = { provide: ASYNC_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] };
    return {
      ...ProvidersCoreModule.assemble(options.isGlobal ?? true, [factory, registry], options.names ?? {}),
      imports: options.imports ?? [],
    };
  }

  private static assemble(isGlobal: boolean, base: Provider[], names: DeclaredNames): DynamicModule {
    const named = PROVIDER_KINDS.flatMap((kind) => (names[kind] ?? []).map((name) => instanceProvider(kind, name)));
    // Singletons, whether or not the config decides a default (see defaultInstanceProvider).
    const defaults = PROVIDER_KINDS.map(defaultInstanceProvider);
    const providers = [...base, ...named, ...defaults];
    return {
      module: ProvidersCoreModule,
      global: isGlobal,
      providers,
      exports: providers.map((p) => (typeof p === 'function' ? p : p.provide)).filter((t) => t !== ASYNC_OPTIONS),
    };
  }
}
