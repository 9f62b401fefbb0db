import type { FactoryProvider, ModuleMetadata } from '@nestjs/common';
import type { ConfigSourceOptions } from '../config/load-config.js';
import type { AnyProviderDefinition, TokenProvider } from '../core/provider-definition.js';
import type { HttpTransport } from '../core/transport.js';
import type { TelemetryOptions } from '../telemetry/telemetry.js';
import type { ProviderKind } from '../core/provider-kind.js';

/** The shape of the YAML, for inline `config`. */
export interface ProvidersConfig {
  llm?: Record<string, { type: string; [key: string]: unknown } | null>;
  embedding?: Record<string, { type: string; [key: string]: unknown } | null>;
  reranker?: Record<string, { type: string; [key: string]: unknown } | null>;
  defaults?: Partial<Record<ProviderKind, string>>;
  /** Where budgets, cooldowns and caches live: `{ type: 'memory' }` (the default) or `{ type: 'redis', url, keyPrefix, required, timeoutMs }`. */
  store?: { type: string; [key: string]: unknown };
}

export interface ProvidersModuleOptions extends Omit<ConfigSourceOptions, 'config'> {
  /** Inline config, merged over the files (or alone when there is no file). */
  config?: ProvidersConfig;
  /** Extra provider types (third-party plugins), next to the built-in ones. */
  providers?: AnyProviderDefinition[];
  /** Register the tokens globally; default true. */
  isGlobal?: boolean;
  /** On `app.close()`, how long calls in flight may finish before they are aborted, ms; default 10000. */
  shutdownGraceMs?: number;
  /**
   * Functions that give bearer tokens, by name, for instances that take a token instead of a key: an
   * `azure-openai` entry with `tokenProvider: <name>` (Microsoft Entra ID), e.g.
   * `{ entra: getBearerTokenProvider(new DefaultAzureCredential(), 'https://cognitiveservices.azure.com/.default') }`.
   */
  tokenProviders?: Record<string, TokenProvider>;
  /**
   * How HTTP provider types reach their services; default: the library's undici transport (a
   * keep-alive pool per origin). Pass your own to go through a proxy, or to record requests in tests;
   * you close it.
   */
  transport?: HttpTransport;
  /**
   * Telemetry beyond what OpenTelemetry's SDK decides: `captureContent: true` records every LLM's
   * messages and answers on its spans (off by default, as the conventions ask; an instance's own
   * `captureContent` turns it on for that instance alone).
   */
  telemetry?: TelemetryOptions;
  /**
   * Reload when a config file (a base file or its overlay) changes: the same as calling
   * `ProvidersRegistry.reload()`. Default false.
   */
  watch?: boolean;
}

/** Names to bind to tokens when they are only known inside an async factory. */
export type DeclaredNames = Partial<Record<ProviderKind, string[]>>;

export interface ProvidersModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Returns the same options as `forRoot` takes (less `isGlobal`). */
  useFactory: (...args: any[]) => Omit<ProvidersModuleOptions, 'isGlobal'> | Promise<Omit<ProvidersModuleOptions, 'isGlobal'>>;
  inject?: FactoryProvider['inject'];
  /**
   * Names bound to `getLLMToken(name)` etc. before the factory runs. Each must then be in the config
   * the factory yields (checked at bootstrap). Other names stay reachable through `ProvidersRegistry`
   * or `ProvidersModule.forFeature(...)`.
   */
  names?: DeclaredNames;
  /** Extra provider types, as in `forRoot`. */
  providers?: AnyProviderDefinition[];
  isGlobal?: boolean;
}
