import type { BeforeApplicationShutdown, OnApplicationShutdown } from '@nestjs/common';
import type { Embedder } from '../core/embedder.js';
import type { LLM } from '../core/llm.js';
import type { Reranker } from '../core/reranker.js';
import type { ProviderKind } from '../core/provider-kind.js';
import type { DefaultChoice } from '../config/default-choice.js';
import type { InstanceUsage } from '../telemetry/usage-summary.js';
import { redactSecrets } from '../core/redact.js';
import type { ReloadResult } from '../core/reload-result.js';

export type { InstanceRef, ReloadResult } from '../core/reload-result.js';

export interface InstanceOfKind {
  llm: LLM;
  embedding: Embedder;
  reranker: Reranker;
}

export interface RegistryContents {
  /** Read at every lookup: a reload changes what they hold. */
  instances: { [K in ProviderKind]: ReadonlyMap<string, InstanceOfKind[K]> };
  defaults: { [K in ProviderKind]: DefaultChoice };
  /** Frees what the instances hold (sockets, models); called once, on application shutdown. */
  close?: () => Promise<void>;
  /** Every instance's secret values, for `redact` (a function when a reload may change them). */
  secrets?: readonly string[] | (() => readonly string[]);
  /** What each instance's calls came to. */
  usage?: () => InstanceUsage[];
  /** Reads and applies the config again (see `ProvidersRegistry.reload`). */
  reload?: () => Promise<ReloadResult>;
}

const KIND_LABEL: Record<ProviderKind, string> = { llm: 'LLM', embedding: 'embedder', reranker: 'reranker' };

/** Asking for a name that the config does not have. */
export class UnknownInstanceError extends Error {
  override readonly name = 'UnknownInstanceError';
  constructor(
    readonly kind: ProviderKind,
    readonly instance: string,
    readonly known: readonly string[],
  ) {
    super(
      `No ${KIND_LABEL[kind]} named "${instance}" is configured. ` +
        (known.length ? `Configured ${kind} names: ${known.join(', ')}.` : `The "${kind}" section is empty.`) +
        ` Add it under "${kind}:" in the providers YAML.`,
    );
  }
}

/** Asking for the default of a kind when the config does not decide one. */
export class NoDefaultInstanceError extends Error {
  override readonly name = 'NoDefaultInstanceError';
  constructor(
    readonly kind: ProviderKind,
    reason: string,
  ) {
    super(`No default ${KIND_LABEL[kind]}: ${reason}`);
  }
}

/**
 * Every configured instance by kind and name. Injectable; the way to reach instances whose names
 * are only known at run time (the gateway's `model` field, names from `forRootAsync`).
 */
export class ProvidersRegistry implements BeforeApplicationShutdown, OnApplicationShutdown {
  private closed?: Promise<void>;
  // Private fields: util.inspect of the registry never shows the secrets in them.
  readonly #contents: RegistryContents;
  readonly #secrets: () => readonly string[];

  constructor(contents: RegistryContents) {
    this.#contents = contents;
    const secrets = contents.secrets ?? [];
    const fixed = typeof secrets === 'function' ? undefined : [...new Set(secrets)];
    this.#secrets = fixed ? () => fixed : (secrets as () => readonly string[]);
  }

  /**
   * Reads the config files again and applies them to new calls: an invalid config is refused with
   * the bootstrap's ProvidersConfigError (the running config stays); a valid one replaces the
   * instances whose entries changed (the objects the app holds stay the same; calls in flight end on
   * the instance they started on), adds new names and retires removed ones. Published on
   * `hush.providers:reload` and logged. `forRoot({ watch: true })` calls it when a config file changes.
   */
  reload(): Promise<ReloadResult> {
    if (!this.#contents.reload) return Promise.reject(new Error('This registry was not made from a config that can be read again.'));
    return this.#contents.reload();
  }

  /**
   * What each instance's calls came to since the application started: calls, errors, tokens, cost
   * (from `pricing`) and latency percentiles over the latest calls. Instances not called yet are not
   * listed.
   */
  usage(): InstanceUsage[] {
    return this.#contents.usage?.() ?? [];
  }

  /**
   * `text` with every configured secret (API keys, header values, tokens) and the key shapes services
   * echo replaced by `***`: for log lines and reports built from errors that did not come through the
   * library's own redaction.
   */
  redact(text: string): string {
    return redactSecrets(text, this.#secrets());
  }

  llm(name?: string): LLM {
    return this.get('llm', name);
  }

  embedder(name?: string): Embedder {
    return this.get('embedding', name);
  }

  reranker(name?: string): Reranker {
    return this.get('reranker', name);
  }

  /** The configured names of a kind, in YAML order. */
  names(kind: ProviderKind): string[] {
    return [...this.#contents.instances[kind].keys()];
  }

  has(kind: ProviderKind, name: string): boolean {
    return this.#contents.instances[kind].has(name);
  }

  /** The default instance's name of a kind, or undefined where the config decides none. */
  defaultName(kind: ProviderKind): string | undefined {
    const choice = this.#contents.defaults[kind];
    return 'name' in choice ? choice.name : undefined;
  }

  get<K extends ProviderKind>(kind: K, name?: string): InstanceOfKind[K] {
    let key = name;
    if (key === undefined) {
      const choice = this.#contents.defaults[kind];
      if ('problem' in choice) throw new NoDefaultInstanceError(kind, choice.problem);
      key = choice.name;
    }
    const instance = this.#contents.instances[kind].get(key);
    if (!instance) throw new UnknownInstanceError(kind, key, this.names(kind));
    return instance;
  }

  /** Closes every instance once; later calls wait for the same close. */
  close(): Promise<void> {
    this.closed ??= this.#contents.close?.() ?? Promise.resolve();
    return this.closed;
  }

  /** Before the HTTP server waits for its requests: drain the calls in flight, abort what is left. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
