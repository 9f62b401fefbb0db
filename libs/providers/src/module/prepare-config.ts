import { ProvidersConfigError, type ConfigIssue } from '../core/config-error.js';
import { loadConfigLayers, locate } from '../config/load-config.js';
import { validateConfig, type ResolvedConfig } from '../config/validate-config.js';
import { BUILTIN_PROVIDERS } from './builtin-providers.js';
import { ProviderDefinitionTable } from '../config/provider-definition-table.js';
import type { ProvidersModuleOptions } from './providers-options.js';

/** Reads, merges and validates the config: synchronously, so that names are known to the module. */
export function prepareConfig(options: ProvidersModuleOptions): PreparedConfig {
  const issues: ConfigIssue[] = [];
  const table = new ProviderDefinitionTable(BUILTIN_PROVIDERS, options.providers ?? [], issues);
  const loaded = loadConfigLayers(options, issues);
  const found: ConfigIssue[] = [];
  const resolved = validateConfig(loaded.value, table, (path) => locate(loaded.layers, path), found);
  // A value whose ${VAR} failed is already reported; its emptiness would only be reported again.
  const reported = new Set(issues.map((i) => i.path).filter(Boolean));
  issues.push(...found.filter((i) => !i.path || !reported.has(i.path)));
  return { resolved, error: issues.length > 0 ? new ProvidersConfigError(inReadingOrder(issues, loaded.files)) : undefined, watched: loaded.watched };
}

export interface PreparedConfig {
  resolved: ResolvedConfig;
  error?: ProvidersConfigError;
  /** The files to watch for changes (see `LoadedLayers.watched`). */
  watched: string[];
}

/** The same, throwing the config error (for forRootAsync, where names come later anyway). */
export function loadResolvedConfig(options: ProvidersModuleOptions): ResolvedConfig {
  const { resolved, error } = prepareConfig(options);
  if (error) throw error;
  return resolved;
}

/** Sorts issues as a reader meets them: file by file in load order, then line and column; unplaced ones keep their place at the end. */
function inReadingOrder(issues: ConfigIssue[], files: string[]): ConfigIssue[] {
  const rank = (i: ConfigIssue) => (i.file === undefined ? files.length + 1 : files.includes(i.file) ? files.indexOf(i.file) : files.length);
  return issues
    .map((issue, order) => ({ issue, order }))
    .sort(
      (a, b) =>
        rank(a.issue) - rank(b.issue) ||
        (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) ||
        (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
        a.order - b.order,
    )
    .map((x) => x.issue);
}
