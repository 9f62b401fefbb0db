import type { ConfigIssue } from '../core/config-error.js';
import type { AnyProviderDefinition } from '../core/provider-definition.js';
import { isProviderKind, PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';

/**
 * The provider types known to one module instance: the built-in ones, then the ones passed to
 * `forRoot({ providers })`, which may replace a built-in type of the same kind and name.
 */
export class ProviderDefinitionTable {
  private readonly byKind = new Map<ProviderKind, Map<string, AnyProviderDefinition>>(
    PROVIDER_KINDS.map((kind) => [kind, new Map()]),
  );

  constructor(builtIn: readonly AnyProviderDefinition[], extra: readonly AnyProviderDefinition[], issues: ConfigIssue[]) {
    for (const def of builtIn) this.byKind.get(def.kind)!.set(def.type, def);
    const seen = new Set<string>();
    extra.forEach((def, index) => {
      const where = `forRoot({ providers })[${index}]`;
      if (!def || !isProviderKind(def.kind) || typeof def.type !== 'string' || !def.type || typeof def.create !== 'function' || typeof def.config !== 'function') {
        issues.push({
          file: where,
          message: 'is not a provider definition: it needs kind (llm, embedding or reranker), type, config (a class) and create().',
          hint: 'Build it with defineLLMProvider(), defineEmbeddingProvider() or defineRerankerProvider().',
        });
        return;
      }
      const key = `${def.kind}/${def.type}`;
      if (seen.has(key)) {
        issues.push({ file: where, message: `registers the ${def.kind} type "${def.type}" a second time.`, hint: 'Register each type once.' });
        return;
      }
      seen.add(key);
      this.byKind.get(def.kind)!.set(def.type, def);
    });
  }

  get(kind: ProviderKind, type: string): AnyProviderDefinition | undefined {
    return this.byKind.get(kind)!.get(type);
  }

  types(kind: ProviderKind): string[] {
    return [...this.byKind.get(kind)!.keys()].sort();
  }

  /** The kinds that have a provider of this type (for "exists for embedding, not for llm"). */
  kindsOf(type: string): ProviderKind[] {
    return PROVIDER_KINDS.filter((kind) => this.byKind.get(kind)!.has(type));
  }
}
