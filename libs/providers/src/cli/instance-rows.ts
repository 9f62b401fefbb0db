import { PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';
import type { ResolvedConfig, ResolvedInstance } from '../config/validate-config.js';

/** One configured instance as `check` lists it. */
export interface InstanceRow {
  kind: ProviderKind;
  name: string;
  type: string;
  model: string;
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
