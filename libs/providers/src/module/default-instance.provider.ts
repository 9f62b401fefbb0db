import type { FactoryProvider, InjectionToken, OptionalFactoryDependency } from '@nestjs/common';
import {
  OPTIONAL_DEPS_METADATA,
  OPTIONAL_PROPERTY_DEPS_METADATA,
  PARAMTYPES_METADATA,
  PROPERTY_DEPS_METADATA,
  SELF_DECLARED_DEPS_METADATA,
} from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import type { Module } from '@nestjs/core/injector/module.js';
import type { ProviderKind } from '../core/provider-kind.js';
import { NoDefaultInstanceError, ProvidersRegistry } from '../registry/providers-registry.js';
import { getProviderToken } from './tokens.js';

/**
 * The default instance of a kind (the no-name token), bound as a singleton in every module setup.
 *
 * Whether a default exists may only be known once the registry is built (`forRootAsync`), after
 * Nest has fixed the providers. When there is none, a class that injects the token makes bootstrap
 * fail with `NoDefaultInstanceError`, naming it; otherwise the token gets a stand-in that throws that
 * error on first use, so `app.get(LLM)` and optional injections still work.
 */
export function defaultInstanceProvider(kind: ProviderKind): FactoryProvider {
  const token = getProviderToken(kind);
  const useFactory = (registry: ProvidersRegistry, modules: ModulesContainer): unknown => {
    try {
      return registry.get(kind);
    } catch (error) {
      if (!(error instanceof NoDefaultInstanceError)) throw error;
      const askers = classesAskingFor(modules, token, useFactory);
      if (askers.length === 0) return standIn(() => registry.get(kind));
      error.message += ` (asked for by ${askers.join(', ')})`;
      throw error;
    }
  };
  // ModulesContainer: scanning is over when factories run, so every class that injects the token is known.
  return { provide: token, useFactory, inject: [ProvidersRegistry, ModulesContainer] };
}

/** What Nest reads on every provider instance (awaiting factory results, lifecycle hooks, discovery). */
const PROBED_BY_NEST = new Set<PropertyKey>([
  'then',
  'constructor',
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
]);

/** Forwards every use but Nest's own probes (which find nothing) to `instance()`, which throws. */
function standIn(instance: () => object): object {
  return new Proxy(Object.create(null) as object, {
    get(target, key) {
      // Symbols are probes too (inspection, coercion, iteration), never members of an instance.
      if (typeof key === 'symbol' || PROBED_BY_NEST.has(key)) return Reflect.get(target, key);
      return Reflect.get(instance(), key);
    },
  });
}

/**
 * The names of the providers, controllers, enhancers and middleware that inject `token` (not
 * `@Optional()`) and would get it from the provider whose factory is `factory`.
 */
function classesAskingFor(modules: ModulesContainer, token: InjectionToken, factory: Function): string[] {
  const askers = new Set<string>();
  for (const module of modules.values()) {
    const wrappers = [module.providers, module.controllers, module.injectables, module.middlewares].flatMap((m) => [...m.values()]);
    for (const wrapper of wrappers) {
      const asks = dependenciesOf(wrapper).some((d) => !d.optional && d.token === token);
      if (asks && lookup(module, token)?.metatype === factory) askers.add(String(wrapper.name));
    }
  }
  return [...askers];
}

interface Dependency {
  token: unknown;
  optional: boolean;
}

/** As Nest's injector reads them: a factory's `inject`, else constructor parameters and injected properties. */
function dependenciesOf(wrapper: InstanceWrapper): Dependency[] {
  const { metatype, inject } = wrapper;
  if (typeof metatype !== 'function') return [];
  if (inject) {
    return inject.map((item) =>
      isOptionalFactoryDependency(item) ? { token: unwrap(item.token), optional: item.optional === true } : { token: unwrap(item), optional: false },
    );
  }
  const params: unknown[] = [...((Reflect.getMetadata(PARAMTYPES_METADATA, metatype) as unknown[] | undefined) ?? [])];
  // @Inject(token) overrides the emitted type.
  for (const { index, param } of (Reflect.getMetadata(SELF_DECLARED_DEPS_METADATA, metatype) as { index: number; param: unknown }[] | undefined) ?? []) {
    params[index] = param;
  }
  const optional: number[] = Reflect.getOwnMetadata(OPTIONAL_DEPS_METADATA, constructorOwner(metatype)) ?? [];
  const properties: { key: string | symbol; type: unknown }[] = Reflect.getMetadata(PROPERTY_DEPS_METADATA, metatype) ?? [];
  const optionalKeys: (string | symbol)[] = Reflect.getMetadata(OPTIONAL_PROPERTY_DEPS_METADATA, metatype) ?? [];
  return [
    ...params.map((param, index) => ({ token: unwrap(param), optional: optional.includes(index) })),
    ...properties.map(({ key, type }) => ({ token: unwrap(type), optional: optionalKeys.includes(key) })),
  ];
}

function isOptionalFactoryDependency(item: unknown): item is OptionalFactoryDependency {
  return typeof item === 'object' && item !== null && 'token' in item && 'optional' in item;
}

function unwrap(token: unknown): unknown {
  return typeof token === 'object' && token !== null && 'forwardRef' in token ? (token as { forwardRef: () => unknown }).forwardRef() : token;
}

/** The class whose constructor is used: a subclass without its own keeps its parent's `@Optional()` flags. */
function constructorOwner(type: Function): Function {
  for (let current: unknown = type; typeof current === 'function' && current !== Function.prototype; current = Object.getPrototypeOf(current)) {
    const keys = [PARAMTYPES_METADATA, OPTIONAL_DEPS_METADATA, SELF_DECLARED_DEPS_METADATA];
    if (keys.some((key) => Reflect.hasOwnMetadata(key, current as Function))) return current as Function;
  }
  return type;
}

/**
 * The provider a class of `module` gets for `token`, found the way Nest's injector finds it: the
 * module's own, else the first import (global ones included) that exports it, through re-exports.
 */
function lookup(module: Module, token: InjectionToken, visited = new Set<string>(), traversing = false): InstanceWrapper | undefined {
  if (!traversing && module.providers.has(token)) return module.providers.get(token);
  for (const related of module.imports) {
    if (!related || (traversing && !module.exports.has(related.metatype)) || visited.has(related.id)) continue;
    visited.add(related.id);
    if (related.exports.has(token) && related.providers.has(token)) return related.providers.get(token);
    const found = lookup(related, token, visited, true);
    if (found) return found;
  }
  return undefined;
}
