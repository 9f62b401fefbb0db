import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { ProvidersConfigError, type ConfigIssue } from '../core/config-error.js';
import type { Embedder } from '../core/embedder.js';
import type { LLM } from '../core/llm.js';
import { defaultInstanceProvider } from '../module/default-instance.provider.js';
import { getProviderToken } from '../module/tokens.js';
import type { Reranker } from '../core/reranker.js';
import { PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';
import { ProvidersRegistry, type InstanceOfKind, type RegistryContents } from '../registry/providers-registry.js';
import { chooseDefault, type DefaultChoice } from '../config/default-choice.js';
import { ADOPT_NAME } from './fake-instance.js';

export interface ProvidersTestingModuleOptions {
  /** LLMs by name (fakes or any other `LLM`), bound to `getLLMToken(name)`. */
  llm?: Record<string, LLM>;
  /** Embedders by name, bound to `getEmbedderToken(name)`. */
  embedding?: Record<string, Embedder>;
  /** Rerankers by name, bound to `getRerankerToken(name)`. */
  reranker?: Record<string, Reranker>;
  /** The default name per kind; same rules as the YAML `defaults:` section. */
  defaults?: { llm?: string; embedding?: string; reranker?: string };
  /** Default true, like `ProvidersModule`. */
  isGlobal?: boolean;
}

const PLURAL: Record<ProviderKind, string> = { llm: 'LLMs', embedding: 'embedders', reranker: 'rerankers' };

/**
 * Stands in for `ProvidersModule` in tests: binds the given instances to the same tokens, so
 * services written with `@InjectLLM('chat')`, `constructor(private llm: LLM)` or `ProvidersRegistry`
 * get them unchanged.
 *
 * ```ts
 * Test.createTestingModule({
 *   imports: [ProvidersTestingModule.forRoot({ llm: { chat: new FakeLLM({ replies: ['hi'] }) } })],
 *   providers: [MyService],
 * })
 * ```
 *
 * The default of each kind is `defaults.<kind>`, else the one named 'default', else the only one.
 * When none can be decided, injecting the no-name token fails at compile with `NoDefaultInstanceError`,
 * naming the class; `moduleRef.get(LLM)` gives a stand-in that throws it on first use, as does
 * `registry.llm()`. A `defaults.<kind>` naming a missing entry
 * throws a `ProvidersConfigError` from `forRoot`. Fakes created without a `name` take their key's.
 */
@Module({})
export class ProvidersTestingModule {
  static forRoot(options: ProvidersTestingModuleOptions = {}): DynamicModule {
    const issues: ConfigIssue[] = [];
    const instances = {
      llm: entries(options.llm, 'llm', issues),
      embedding: entries(options.embedding, 'embedding', issues),
      reranker: entries(options.reranker, 'reranker', issues),
    } as RegistryContents['instances'];
    const defaults = {} as Record<ProviderKind, DefaultChoice>;
    for (const kind of PROVIDER_KINDS) {
      defaults[kind] = defaultOf(kind, [...instances[kind].keys()], options.defaults?.[kind], issues);
    }
    if (issues.length > 0) throw new ProvidersConfigError(issues);

    const providers: Provider[] = [{ provide: ProvidersRegistry, useValue: new ProvidersRegistry({ instances, defaults }) }];
    for (const kind of PROVIDER_KINDS) {
      for (const [name, instance] of instances[kind]) {
        adoptName(instance, name);
        providers.push({ provide: getProviderToken(kind, name), useValue: instance });
      }
      // As in ProvidersModule: the registry's default, or, when it decides none, a failure for whoever asks.
      providers.push(defaultInstanceProvider(kind));
    }

    return {
      module: ProvidersTestingModule,
      global: options.isGlobal ?? true,
      providers,
      exports: providers.map((p) => (typeof p === 'function' ? p : p.provide)),
    };
  }
}

function entries<K extends ProviderKind>(
  record: Record<string, InstanceOfKind[K]> | undefined,
  kind: K,
  issues: ConfigIssue[],
): Map<string, InstanceOfKind[K]> {
  const map = new Map<string, InstanceOfKind[K]>();
  for (const [name, instance] of Object.entries(record ?? {})) {
    if (typeof instance !== 'object' || instance === null) {
      issues.push({ path: `${kind}.${name}`, message: `expected an instance, got ${instance === null ? 'null' : typeof instance}.` });
    } else {
      map.set(name, instance);
    }
  }
  return map;
}

/** Checks a requested default, then applies the same rule as the YAML's. */
function defaultOf(kind: ProviderKind, names: string[], requested: string | undefined, issues: ConfigIssue[]): DefaultChoice {
  if (requested !== undefined && !names.includes(requested)) {
    issues.push({
      path: `defaults.${kind}`,
      message: `names "${requested}", which is not among the ${PLURAL[kind]} given (${names.join(', ') || 'none'}).`,
    });
    return { problem: `defaults.${kind} names a missing entry "${requested}".` };
  }
  return chooseDefault(kind, names, requested);
}

function adoptName(instance: object, name: string): void {
  const adopt = (instance as { [ADOPT_NAME]?: (name: string) => void })[ADOPT_NAME];
  if (typeof adopt === 'function') adopt.call(instance, name);
}
