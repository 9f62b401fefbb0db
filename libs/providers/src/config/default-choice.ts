import type { ProviderKind } from '../core/provider-kind.js';

/** Either the default instance's name, or why there is none (said when something asks for it). */
export type DefaultChoice = { name: string } | { problem: string };

/**
 * The contract's rule for a kind's default: the name in `defaults.<kind>` (already checked to
 * exist), else the one named "default", else the only one; otherwise why none can be decided.
 */
export function chooseDefault(kind: ProviderKind, names: readonly string[], explicit?: string): DefaultChoice {
  if (explicit !== undefined) return { name: explicit };
  if (names.includes('default')) return { name: 'default' };
  if (names.length === 1) return { name: names[0]! };
  return {
    problem:
      names.length === 0
        ? `there is no ${kind} entry at all.`
        : `there are ${names.length} ${kind} entries (${names.join(', ')}), none is named "default" and defaults.${kind} is not set. Set defaults.${kind}, or inject by name.`,
  };
}
