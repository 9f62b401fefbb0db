// The config classes' decorators read and write metadata, as in the application (which loads it first).
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyProviderDefinition } from '../core/provider-definition.js';
import { isProviderKind } from '../core/provider-kind.js';
import type { ProvidersModuleOptions } from '../module/providers-options.js';
import { UsageError } from './exit-codes.js';

/** The flags `check` and `print` share. */
export interface SourceFlags {
  config?: string;
  env?: string;
  providers?: string[];
}

/**
 * The options `ProvidersModule.forRoot()` would get for these flags: unset flags stay unset, so the
 * module's own defaults (PROVIDERS_CONFIG, config/providers.yaml, NODE_ENV) apply, from the same code.
 */
export async function moduleOptions(flags: SourceFlags): Promise<ProvidersModuleOptions> {
  return {
    ...(flags.config !== undefined && { configPath: flags.config }),
    ...(flags.env !== undefined && { environment: flags.env }),
    providers: await loadDefinitions(flags.providers ?? []),
  };
}

/**
 * The provider definitions exported by each module: an array of them, or definitions as named (or
 * default) exports. Each definition counts once, however many exports reach it.
 */
export async function loadDefinitions(specifiers: readonly string[], cwd = process.cwd()): Promise<AnyProviderDefinition[]> {
  const found = new Set<AnyProviderDefinition>();
  for (const specifier of specifiers) {
    let exports: Record<string, unknown>;
    try {
      exports = (await import(moduleUrl(specifier, cwd))) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--providers ${specifier} could not be loaded: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const before = found.size;
    for (const value of Object.values(exports)) {
      if (isDefinition(value)) found.add(value);
      else if (Array.isArray(value) && value.length > 0 && value.every(isDefinition)) value.forEach((d) => found.add(d));
    }
    if (found.size === before) {
      throw new UsageError(
        `--providers ${specifier} exports no provider definition. Export them as an array, or each as a named export made with defineLLMProvider(), defineEmbeddingProvider() or defineRerankerProvider().`,
      );
    }
  }
  return [...found];
}

/** A path (relative to `cwd`) or a package name, resolved the way the user's own code would. */
function moduleUrl(specifier: string, cwd: string): string {
  const path = resolve(cwd, specifier);
  if (isAbsolute(specifier) || specifier.startsWith('.') || existsSync(path)) return pathToFileURL(path).href;
  return pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(specifier)).href;
}

function isDefinition(value: unknown): value is AnyProviderDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Partial<AnyProviderDefinition>;
  return isProviderKind(d.kind) && typeof d.type === 'string' && typeof d.config === 'function' && typeof d.create === 'function';
}
