import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect, isDeepStrictEqual } from 'node:util';
import { Logger, type LoggerService } from '@nestjs/common';
import { PROVIDER_ERROR_CHANNEL, PROVIDER_FALLBACK_CHANNEL, PROVIDER_RETRY_CHANNEL } from '../core/diagnostics.js';
import type { AnyProviderDefinition } from '../core/provider-definition.js';
import { ProviderError } from '../core/provider-error.js';
import type { ProviderKind } from '../core/provider-kind.js';
import { createRegistry } from '../module/create-registry.js';
import { loadResolvedConfig } from '../module/prepare-config.js';
import type { InstanceOfKind, ProvidersRegistry } from '../registry/providers-registry.js';

/**
 * What the conformance checks share: booting one instance of the type under test the way
 * `ProvidersModule` does, the facts its driver declares, assertions that throw a ConformanceError
 * saying what was expected, and the capture of everything the library prints or publishes.
 */

/** A check that failed: what the type (or its fake) did, against what every type must do. */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
}

/** The fake of a service, as the checks drive it: `ServiceFake` is one, and so is any fake with these members. */
export interface ConformanceFake<R extends ConformanceRequest = ConformanceRequest> {
  /** The API root as the type's `baseUrl` takes it. */
  readonly baseUrl: string;
  /** Every request received, in order. */
  readonly requests: readonly R[];
  /** The texts a request carries (embedding inputs, rerank documents), in order; undefined for one that carries none. */
  inputsOf(request: R): readonly string[] | undefined;
  /** The next request gets `status`, with the service's error body around `message`, and `headers`. */
  failNext(status: number, message?: string, options?: { headers?: Record<string, string> }): unknown;
  /** The next request gets this exact body. */
  rawNext(status: number, body: string, contentType?: string): unknown;
  /** The next request's JSON answer goes through `fn` first. */
  mutateNext(fn: (json: any) => any): unknown;
  /** The next request is never answered. */
  hangNext(): unknown;
  /** Resolves once `predicate` holds for the requests; rejects after `timeoutMs`. */
  waitFor(predicate: (requests: readonly R[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** What the checks read of a recorded request. */
export interface ConformanceRequest {
  readonly method: string;
  /** True once the client closed the connection before the answer ended. */
  readonly aborted: boolean;
}

export interface ConformanceOptions<R extends ConformanceRequest = ConformanceRequest> {
  /** Starts a fresh fake of the service (each check starts its own, and closes it). */
  fake: () => Promise<ConformanceFake<R>>;
  /**
   * The config entry of an instance against the fake, as in YAML less `type` (values as they are: no
   * `${VAR}`). Its `baseUrl` is the fake's when the entry leaves it out; give a function of the fake
   * for a type that names its root otherwise.
   */
  entry: Record<string, unknown> | ((fake: ConformanceFake<R>) => Record<string, unknown>);
  /** The value that must never show in an error, a log line or an event; default the entry's `apiKey`. */
  secret?: string;
  /** For an embedding type that supports `dimensions`: two values the service (and its fake) accept. */
  dimensions?: readonly [number, number];
  /** The longest an abort may take to reject, ms; default 1000 (generous, for busy machines). */
  atOnceMs?: number;
}

/** The instance name of every check's config. */
export const INSTANCE = 'conformance';

/** The facts the type's driver declares for the entry under test. */
export interface DriverFacts {
  /** Inputs (embedding) or documents (reranker) per request. */
  limit: number;
  supportsDimensions: boolean;
  hasPing: boolean;
}

/** One check's world: its fake, and instances of the type booted against it. */
export class CheckContext<K extends ProviderKind, R extends ConformanceRequest> {
  readonly #opened: ProvidersRegistry[] = [];

  constructor(
    readonly definition: AnyProviderDefinition & { kind: K },
    readonly options: ConformanceOptions<R>,
    readonly fake: ConformanceFake<R>,
    /** The check's name, for messages. */
    readonly check: string,
  ) {}

  get label(): string {
    return `${this.definition.kind} type "${this.definition.type}"`;
  }

  /** The entry under test, with the fake's root, then `extra` over it. */
  entry(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const given = typeof this.options.entry === 'function' ? this.options.entry(this.fake) : this.options.entry;
    return { ...(typeof this.options.entry === 'function' ? {} : { baseUrl: this.fake.baseUrl }), ...given, ...extra };
  }

  get secret(): string | undefined {
    const secret = this.options.secret ?? this.entry().apiKey;
    return typeof secret === 'string' && secret.length > 0 ? secret : undefined;
  }

  /** The instance of the entry (with `extra`), booted as `ProvidersModule` boots it; closed after the check. */
  async boot(extra: Record<string, unknown> = {}): Promise<InstanceOfKind[K]> {
    const registry = await this.registry({ [INSTANCE]: this.entry(extra) });
    return registry.get(this.definition.kind, INSTANCE) as InstanceOfKind[K];
  }

  /** A registry of the given entries of this type (each less `type`), by name. */
  async registry(entries: Record<string, Record<string, unknown>>): Promise<ProvidersRegistry> {
    const { kind, type } = this.definition;
    const section = Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, { type, ...entry }]));
    const resolved = loadResolvedConfig({ configPath: [], env: {}, config: { [kind]: section }, providers: [this.definition] });
    const registry = await createRegistry(resolved);
    this.#opened.push(registry);
    return registry;
  }

  /** The limits and routes the type's driver declares for the entry (with `extra`). */
  async facts(extra: Record<string, unknown> = {}): Promise<DriverFacts> {
    const { kind, type } = this.definition;
    const resolved = loadResolvedConfig({
      configPath: [],
      env: {},
      config: { [kind]: { [INSTANCE]: { type, ...this.entry(extra) } } },
      providers: [this.definition],
    });
    const config = resolved.instances[kind].get(INSTANCE)!.deployments[0]!.config;
    const driver = (await this.definition.create(config, { name: INSTANCE, kind, type, logger: SILENT })) as {
      maxBatchSize?: number;
      maxDocuments?: number;
      supportsDimensions?: boolean;
      ping?: unknown;
      close?: () => unknown;
    };
    try {
      return {
        limit: (kind === 'embedding' ? driver.maxBatchSize : driver.maxDocuments) ?? NaN,
        supportsDimensions: driver.supportsDimensions === true,
        hasPing: typeof driver.ping === 'function',
      };
    } finally {
      await driver.close?.();
    }
  }

  /** Closes every instance the check booted. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#opened.splice(0).map((r) => r.close()));
  }

  /** The failure of the check: `what` went wrong. The secret never shows, even when it is what leaked. */
  failure(what: string): ConformanceError {
    return new ConformanceError(this.hide(`${this.label}, ${this.check}: ${what}`));
  }

  fail(what: string): never {
    throw this.failure(what);
  }

  expect(condition: unknown, what: string): void {
    if (!condition) throw this.failure(what);
  }

  equal(actual: unknown, expected: unknown, what: string): void {
    if (!isDeepStrictEqual(actual, expected)) this.fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }

  /** `text` with the secret replaced by ***. */
  hide(text: string): string {
    const secret = this.secret;
    return secret ? text.split(secret).join('***') : text;
  }

  /** What `promise` rejects with; fails the check when it resolves. */
  async rejection(promise: Promise<unknown>, call: string): Promise<unknown> {
    try {
      await promise;
    } catch (err) {
      return err;
    }
    return this.fail(`${call} should have failed, and it resolved`);
  }

  /** Checks that `error` is a ProviderError of this instance with `fields`. */
  providerError(error: unknown, fields: Record<string, unknown>, when: string): ProviderError {
    if (!(error instanceof ProviderError)) throw this.failure(`${when}, the call should reject with a ProviderError; it rejected with ${describeError(error)}`);
    const { kind, type } = this.definition;
    const expected: Record<string, unknown> = { name: 'ProviderError', instance: INSTANCE, type, kind, ...fields };
    const wrong = Object.entries(expected).filter(([key, value]) => !isDeepStrictEqual((error as unknown as Record<string, unknown>)[key], value));
    if (wrong.length > 0) {
      const got = wrong.map(([key]) => `${key} ${show((error as unknown as Record<string, unknown>)[key])}`).join(', ');
      const want = wrong.map(([key, value]) => `${key} ${show(value)}`).join(', ');
      this.fail(`${when}, the ProviderError should have ${want}; it has ${got} (${describeError(error)})`);
    }
    const prefix = `${kind} "${INSTANCE}" (${type}): `;
    this.expect(error.message.startsWith(prefix), `${when}, the error's message should start with ${show(prefix)}: ${show(error.message)}`);
    return error;
  }

  /** Fails when `text` holds the secret (or the distinctive middle of a long one): `where` says where it showed. */
  noSecretIn(text: string, where: string): void {
    const secret = this.secret;
    if (!secret) return;
    if (text.includes(secret)) this.fail(`the secret shows in ${where}`);
    if (secret.length >= 20) {
      const middle = secret.slice(Math.floor(secret.length / 2) - 6, Math.floor(secret.length / 2) + 6);
      if (text.includes(middle)) this.fail(`a part of the secret shows in ${where}`);
    }
  }
}

/** Runs `body` in a fresh context (its own fake), and closes everything after. */
export async function withContext<K extends ProviderKind, R extends ConformanceRequest>(
  definition: AnyProviderDefinition & { kind: K },
  options: ConformanceOptions<R>,
  check: string,
  body: (c: CheckContext<K, R>) => Promise<void>,
): Promise<void> {
  const fake = await options.fake();
  const context = new CheckContext(definition, options, fake, check);
  try {
    await body(context);
  } finally {
    await context.close();
    await fake.close();
  }
}

/** Every printable form of an error, its causes included. */
export function printable(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    const e = current as Error;
    parts.push(String(e), String(e.message), e.stack ?? '', safeJson(e), inspect(e, { depth: 10, showHidden: true }));
    current = e.cause;
  }
  return parts.join('\n');
}

/**
 * Everything the library logs (through Nest's Logger) and publishes on its diagnostics channels
 * while `body` runs, as text. Nest's logger is process-wide: it is put back as it was afterwards.
 */
export async function captureOutput(body: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const line =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) =>
      void lines.push(`${level}: ${[message, ...rest].map(text).join(' ')}`);
  const capture: LoggerService = {
    log: line('log'),
    error: line('error'),
    warn: line('warn'),
    debug: line('debug'),
    verbose: line('verbose'),
    fatal: line('fatal'),
  };
  const onEvent = (channel: string) => (event: unknown) => void lines.push(`${channel}: ${inspect(event, { depth: 8, showHidden: true })}`);
  const listeners = [PROVIDER_ERROR_CHANNEL, PROVIDER_RETRY_CHANNEL, PROVIDER_FALLBACK_CHANNEL].map((channel) => [channel, onEvent(channel)] as const);
  const previous = NestLoggerState.current();
  Logger.overrideLogger(capture);
  for (const [channel, listener] of listeners) subscribe(channel, listener);
  try {
    await body();
  } finally {
    for (const [channel, listener] of listeners) unsubscribe(channel, listener);
    Logger.overrideLogger(previous ?? false);
  }
  return lines;
}

// Nest keeps the process-wide logger in a protected static: a subclass may read it, to put it back.
class NestLoggerState extends Logger {
  static current(): LoggerService | undefined {
    return NestLoggerState.staticInstanceRef;
  }
}

const SILENT: LoggerService = { log() {}, error() {}, warn() {}, debug() {}, verbose() {} };

/** A short form of a value for a message. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
  if (Array.isArray(value) && value.length > 8) return `[${value.slice(0, 8).map(show).join(', ')}, … ${value.length} items]`;
  return inspect(value, { depth: 3, breakLength: Infinity, maxArrayLength: 8, maxStringLength: 200 });
}

export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return show(err);
  const fields = err instanceof ProviderError ? ` {status: ${err.status}, retryable: ${err.retryable}, code: ${show(err.code)}}` : '';
  return `${err.name}${fields}: ${show(err.message)}`;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : inspect(value, { depth: 6 });
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}
