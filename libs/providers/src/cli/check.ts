import { PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';
import type { ResolvedConfig, ResolvedInstance } from '../config/validate-config.js';
import { prepareConfig } from '../module/prepare-config.js';
import { moduleOptions, type SourceFlags } from './config-source.js';
import { EXIT } from './exit-codes.js';

export interface CheckFlags extends SourceFlags {
  ping?: boolean;
}

/** One configured instance as `check` lists it. */
export interface InstanceRow {
  kind: ProviderKind;
  name: string;
  type: string;
  model: string;
}

/** Validates exactly as the module's bootstrap does; with `ping`, also reaches every instance. */
export async function check(flags: CheckFlags): Promise<number> {
  const options = await moduleOptions(flags);
  const { resolved, error } = prepareConfig(options);
  if (error) {
    process.stderr.write(`${error.message}\n`);
    return EXIT.invalid;
  }
  const rows = instanceRows(resolved);
  if (!flags.ping) {
    process.stdout.write(
      rows.length > 0
        ? formatRows(rows)
            .map((line) => `${line}\n`)
            .join('')
        : 'No instances are configured.\n',
    );
    return EXIT.ok;
  }
  const { pingAll } = await import('./ping.js');
  return pingAll(options, rows);
}

/** Every instance in YAML order, kind by kind. Deployments of different types or models list each once. */
export function instanceRows(resolved: ResolvedConfig): InstanceRow[] {
  return PROVIDER_KINDS.flatMap((kind) =>
    [...resolved.instances[kind].values()].map((instance) => ({
      kind,
      name: instance.name,
      type: distinct(instance.deployments.map((d) => d.definition.type)),
      model: distinct(instance.deployments.map((d) => modelOf(d.config))) || '-',
    })),
  );
}

// Azure's model defaults to its deployment's name, as its driver does.
function modelOf(config: ResolvedInstance['config']): string {
  const { model, deployment } = config as { model?: unknown; deployment?: unknown };
  return typeof model === 'string' ? model : typeof deployment === 'string' ? deployment : '';
}

const distinct = (values: string[]) => [...new Set(values.filter(Boolean))].join(',');

/** The rows as aligned columns: kind, name, type, model (padded too when something follows it). */
export function formatRows(rows: readonly InstanceRow[], padModel = false): string[] {
  const cells = rows.map((r) => [r.kind, r.name, r.type, r.model]);
  const widths = [0, 1, 2, 3].map((col) => Math.max(...cells.map((c) => c[col]!.length)));
  return cells.map((c) => c.map((cell, col) => (col < 3 || padModel ? cell.padEnd(widths[col]!) : cell)).join('  '));
}
