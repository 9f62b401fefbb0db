import type { ValidationError } from 'class-validator';
import { configValidation } from '../core/validation.js';
import { chooseDefault } from './default-choice.js';
import type { ProviderDefinitionTable } from './provider-definition-table.js';
import type { AnyProviderDefinition } from '../core/provider-definition.js';
import { PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';
import type { DefaultChoice } from './default-choice.js';
import { REDACTED } from '../core/redact.js';
import { secretFieldsOf } from '../core/config-fields.js';
import type { ConfigIssue } from '../core/config-error.js';
import type { InstanceConfig } from '../core/instance-config.js';
import { formatPath, type KeyPath } from './key-path.js';
import { resolveStore, type StoreConfig } from './store-config.js';

/** One configured deployment of an instance: its validated config and its load-balancing weight. */
export interface ResolvedDeployment {
  definition: AnyProviderDefinition;
  config: InstanceConfig;
  weight: number;
}

/** One named instance, validated. Without `deployments:` in YAML it has exactly one deployment. */
export interface ResolvedInstance {
  kind: ProviderKind;
  name: string;
  /** The instance's `type` (of its first deployment where deployments differ). */
  type: string;
  /** The config as written, less `deployments`: the instance-wide keys (timeouts, fallbacks, ...). */
  config: InstanceConfig;
  deployments: ResolvedDeployment[];
}

export interface ResolvedConfig {
  instances: { [K in ProviderKind]: Map<string, ResolvedInstance> };
  defaults: { [K in ProviderKind]: DefaultChoice };
  /** Where budgets, cooldowns and caches live. */
  store: StoreConfig;
}

export const TOP_LEVEL_SECTIONS = [...PROVIDER_KINDS, 'defaults', 'store'] as const;
/** What an instance name (`llm.<name>`) may be. */
export const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;

// OpenAI's chat parameters, which users write beside `model` by habit.
const CALL_PARAMETERS = new Set([
  'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'stop', 'seed', 'presence_penalty', 'frequency_penalty',
  'response_format', 'tools', 'tool_choice', 'logprobs', 'top_logprobs', 'n', 'user', 'reasoning_effort', 'maxTokens', 'topP',
]);

const TYPE_CONSTRAINTS = new Set(['isInt', 'isNumber', 'isString', 'isBoolean', 'isArray', 'isObject']);

type Locate = (path: KeyPath) => Pick<ConfigIssue, 'file' | 'line' | 'column'>;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks the merged config against the provider definitions and turns it into validated instances.
 * Every problem is pushed to `issues`; nothing is thrown.
 */
export function validateConfig(
  raw: unknown,
  definitions: ProviderDefinitionTable,
  locate: Locate,
  issues: ConfigIssue[],
): ResolvedConfig {
  const resolved: ResolvedConfig = {
    instances: { llm: new Map(), embedding: new Map(), reranker: new Map() },
    defaults: { llm: { problem: '' }, embedding: { problem: '' }, reranker: { problem: '' } },
    store: { type: 'memory' },
  };
  const problem = (path: KeyPath, message: string, hint?: string) =>
    issues.push({ ...locate(path), path: path.length ? formatPath(path) : undefined, message, hint });

  if (!isPlainObject(raw)) {
    problem([], `The config must be a map with the sections ${TOP_LEVEL_SECTIONS.join(', ')}; got ${describe(raw)}.`);
    return resolved;
  }
  for (const key of Object.keys(raw)) {
    if (!(TOP_LEVEL_SECTIONS as readonly string[]).includes(key)) {
      const guess = closest(key, TOP_LEVEL_SECTIONS);
      problem([key], `Unknown section "${key}".`, `${guess ? `Did you mean "${guess}"? ` : ''}Sections: ${TOP_LEVEL_SECTIONS.join(', ')}.`);
    }
  }

  for (const kind of PROVIDER_KINDS) {
    const section = raw[kind];
    if (section === undefined) continue;
    if (!isPlainObject(section)) {
      problem([kind], `The "${kind}" section must map names to entries; got ${describe(section)}.`);
      continue;
    }
    for (const [name, entry] of Object.entries(section)) {
      const instance = validateInstance(kind, name, entry, definitions, problem);
      if (instance) resolved.instances[kind].set(name, instance);
    }
  }

  checkFallbacks(raw, resolved, problem);
  resolveDefaults(raw.defaults, resolved, problem);
  resolved.store = resolveStore(raw.store, problem);
  return resolved;
}

function validateInstance(
  kind: ProviderKind,
  name: string,
  entry: unknown,
  definitions: ProviderDefinitionTable,
  problem: (path: KeyPath, message: string, hint?: string) => void,
): ResolvedInstance | undefined {
  const path: KeyPath = [kind, name];
  if (!INSTANCE_NAME.test(name)) {
    problem(path, `The name "${name}" is not usable as an instance name.`, 'Start with a letter or digit; then letters, digits, ".", "_", "-", ":", "/" or "@".');
    return undefined;
  }
  if (!isPlainObject(entry)) {
    problem(path, `The entry must be a map with at least "type"; got ${describe(entry)}.`);
    return undefined;
  }
  const { deployments, ...shared } = entry;
  if (deployments === undefined) {
    const deployment = validateDeployment(kind, shared, path, [], definitions, problem);
    return deployment && { kind, name, type: deployment.definition.type, config: deployment.config, deployments: [{ ...deployment, weight: 1 }] };
  }
  if (!Array.isArray(deployments) || deployments.length === 0) {
    problem([...path, 'deployments'], `"deployments" must be a non-empty list of entries; got ${describe(deployments)}.`);
    return undefined;
  }
  const resolvedDeployments: ResolvedDeployment[] = [];
  deployments.forEach((item, index) => {
    const itemPath = [...path, 'deployments', index];
    if (!isPlainObject(item)) {
      problem(itemPath, `A deployment must be a map of keys; got ${describe(item)}.`);
      return;
    }
    const { weight, ...own } = item;
    if (weight !== undefined && !(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
      problem([...itemPath, 'weight'], `"weight" must be a number above 0; got ${describe(weight)}.`);
    }
    const ownKeys = Object.keys(own);
    const deployment = validateDeployment(kind, { ...shared, ...own }, path, ownKeys.map((k) => [k, [...itemPath, k]]), definitions, problem);
    if (deployment) resolvedDeployments.push({ ...deployment, weight: typeof weight === 'number' ? weight : 1 });
  });
  if (resolvedDeployments.length !== deployments.length) return undefined;
  const first = resolvedDeployments[0]!;
  return { kind, name, type: first.definition.type, config: first.config, deployments: resolvedDeployments };
}

/**
 * Validates one entry against its type's config class. `overrides` maps keys that a deployment
 * wrote itself to their own path, so a problem points at the line that caused it.
 */
function validateDeployment(
  kind: ProviderKind,
  entry: Record<string, unknown>,
  instancePath: KeyPath,
  overrides: Array<[string, KeyPath]>,
  definitions: ProviderDefinitionTable,
  problem: (path: KeyPath, message: string, hint?: string) => void,
): Omit<ResolvedDeployment, 'weight'> | undefined {
  const own = new Map(overrides);
  const pathOf = (key: string): KeyPath => own.get(key) ?? [...instancePath, key];
  const type = entry.type;
  if (type === undefined) {
    problem(instancePath, 'The entry has no "type".', `Add "type:" with one of the ${kind} types: ${definitions.types(kind).join(', ')}.`);
    return undefined;
  }
  if (typeof type !== 'string') {
    problem(pathOf('type'), `"type" must be a string; got ${describe(type)}.`, `Known ${kind} types: ${definitions.types(kind).join(', ')}.`);
    return undefined;
  }
  const definition = definitions.get(kind, type);
  if (!definition) {
    const elsewhere = definitions.kindsOf(type);
    const guess = closest(type, definitions.types(kind));
    problem(
      pathOf('type'),
      `Unknown ${kind} type "${type}".` + (elsewhere.length ? ` "${type}" exists for ${elsewhere.join(', ')}, not for ${kind}.` : ''),
      `${guess ? `Did you mean "${guess}"? ` : ''}Known ${kind} types: ${definitions.types(kind).join(', ')}` +
        ' (register more through forRoot({ providers: [...] })).',
    );
    return undefined;
  }
  const { validator, transformer } = configValidation();
  const config = transformer.plainToInstance(definition.config, entry, { exposeDefaultValues: true }) as InstanceConfig;
  const errors = validator.validateSync(config, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
  if (errors.length > 0) {
    const secrets = secretFieldsOf(definition.config);
    const known = knownKeys(definition.config);
    const flat = flatten(errors);
    // `baseURL` for `baseUrl`: the unknown key says it all; "baseUrl is required" would only repeat it.
    const explained = new Set(
      flat.filter((e) => e.constraints.whitelistValidation).map((e) => closest(String(e.path[e.path.length - 1]), known)),
    );
    for (const error of flat) {
      if (error.value === undefined && error.path.length === 1 && explained.has(String(error.path[0]))) continue;
      const [top, ...rest] = error.path;
      const path = [...pathOf(String(top)), ...rest];
      problem(path, ...describeValidationError(error, type, known, secrets.has(String(top))));
    }
    return undefined;
  }
  return { definition, config };
}

interface FlatError {
  path: Array<string | number>;
  value: unknown;
  constraints: Record<string, string>;
  /** The object the key belongs to: the entry, or a nested one (`pricing`). */
  target?: object;
}

function flatten(errors: ValidationError[], parent: Array<string | number> = []): FlatError[] {
  return errors.flatMap((error) => {
    const path = [...parent, /^\d+$/.test(error.property) ? Number(error.property) : error.property];
    const own: FlatError[] = error.constraints ? [{ path, value: error.value, constraints: error.constraints, target: error.target }] : [];
    return [...own, ...flatten(error.children ?? [], path)];
  });
}

function describeValidationError(
  error: FlatError,
  type: string,
  known: string[],
  secret: boolean,
): [message: string, hint?: string] {
  const key = String(error.path[error.path.length - 1]);
  if (error.constraints.whitelistValidation) {
    // A key inside a nested map (`pricing`): the keys of that map are the ones to suggest.
    if (error.path.length > 1 && error.target) {
      const nested = knownKeys(error.target.constructor as new () => unknown);
      const guess = closest(key, nested);
      const parent = String(error.path[error.path.length - 2]);
      return [`Unknown key "${key}" for type "${type}".`, `${guess ? `Did you mean "${guess}"? ` : ''}Keys of "${parent}": ${nested.join(', ')}.`];
    }
    const guess = closest(key, known);
    const asParam = known.includes('params') && CALL_PARAMETERS.has(key) ? `Call parameters go under "params:" (params: { ${key}: ... }). ` : '';
    return [
      `Unknown key "${key}" for type "${type}".`,
      `${asParam}${guess ? `Did you mean "${guess}"? ` : ''}Keys of "${type}": ${known.join(', ')}.`,
    ];
  }
  const shown = secret ? REDACTED : describe(error.value);
  if (typeof error.value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*@/i.test(error.value) && error.constraints.isUrl) {
    return [`"${key}" must not carry credentials; got ${shown}.`, 'Put the key in "apiKey" (or a header in "headers"), where it is kept secret.'];
  }
  // A value of the wrong type fails its range checks too; the type is what needs fixing.
  const typeChecks = Object.keys(error.constraints).filter((k) => TYPE_CONSTRAINTS.has(k));
  const failed = typeChecks.length > 0 ? typeChecks : Object.keys(error.constraints);
  const reasons = failed.map((k) => error.constraints[k]!.replace(/^\S+ /, ''));
  if (error.value === undefined) return [`"${key}" is required (${reasons.join('; ')}).`, `Add "${key}:" to the entry.`];
  return [`"${key}" ${reasons.join('; ')}; got ${shown}.`];
}

/** Every key the config class declares through class-validator decorators. */
function knownKeys(configClass: new () => unknown): string[] {
  return configKeysOf(configClass).map((k) => k.key);
}

/** The keys a config class accepts, and whether each may be left out (for docs and tools). */
export function configKeysOf(configClass: new () => unknown): Array<{ key: string; optional: boolean }> {
  const keys = new Map<string, boolean>();
  for (const m of configValidation().validator.getMetadataStorage().getTargetValidationMetadatas(configClass, '', true, false)) {
    keys.set(m.propertyName, (keys.get(m.propertyName) ?? false) || m.type === 'conditionalValidation');
  }
  return [...keys].map(([key, optional]) => ({ key, optional }));
}

function checkFallbacks(
  raw: Record<string, unknown>,
  resolved: ResolvedConfig,
  problem: (path: KeyPath, message: string, hint?: string) => void,
): void {
  for (const kind of PROVIDER_KINDS) {
    const instances = resolved.instances[kind];
    const section = (raw[kind] ?? {}) as Record<string, unknown>;
    for (const [name, instance] of instances) {
      (instance.config.fallbacks ?? []).forEach((target, index) => {
        const path: KeyPath = [kind, name, 'fallbacks', index];
        if (target === name) problem(path, `"${name}" lists itself as a fallback.`, 'Remove it from its own fallbacks.');
        else if (!instances.has(target)) {
          const otherKind = PROVIDER_KINDS.find((k) => k !== kind && isPlainObject(raw[k]) && target in (raw[k] as object));
          const hint = target in section
            ? `"${target}" is itself invalid; fix it first.`
            : otherKind
              ? `"${target}" is ${otherKind === 'reranker' ? 'a' : 'an'} ${otherKind} entry; a fallback must be of the same kind (${kind}).`
              : `Fallbacks name other ${kind} entries: ${[...instances.keys()].filter((n) => n !== name).join(', ') || '(none)'}.`;
          problem(path, `Fallback "${target}" is not a configured ${kind} name.`, hint);
        } else if (kind === 'embedding') {
          checkSameEmbeddingSpace(instance, instances.get(target)!, path, problem);
        }
      });
    }
    reportFallbackCycles(kind, instances, problem);
  }
}

// Vectors from a fallback must be comparable with the primary's: same model, same length.
function checkSameEmbeddingSpace(
  primary: ResolvedInstance,
  fallback: ResolvedInstance,
  path: KeyPath,
  problem: (path: KeyPath, message: string, hint?: string) => void,
): void {
  const spaces = (i: ResolvedInstance) =>
    i.deployments.map((d) => `${(d.config as { model?: string }).model}/${(d.config as { dimensions?: number }).dimensions ?? '?'}`);
  const mine = new Set(spaces(primary));
  const theirs = spaces(fallback);
  if (theirs.some((s) => !mine.has(s)) || mine.size !== new Set(theirs).size) {
    problem(
      path,
      `Fallback "${fallback.name}" embeds into another space (${theirs.join(', ')}) than "${primary.name}" (${[...mine].join(', ')}).`,
      'An embedding fallback must use the same model and dimensions, or its vectors cannot be compared with stored ones.',
    );
  }
}

function reportFallbackCycles(
  kind: ProviderKind,
  instances: Map<string, ResolvedInstance>,
  problem: (path: KeyPath, message: string, hint?: string) => void,
): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const reported = new Set<string>();
  const visit = (name: string, trail: string[]): void => {
    state.set(name, 'visiting');
    for (const next of instances.get(name)?.config.fallbacks ?? []) {
      if (next === name || !instances.has(next)) continue;
      if (state.get(next) === 'visiting') {
        const cycle = [...trail.slice(trail.indexOf(next)), next];
        const key = [...cycle].sort().join('|');
        if (!reported.has(key)) {
          reported.add(key);
          problem([kind, name, 'fallbacks'], `Fallbacks form a cycle: ${cycle.join(' → ')}.`, 'Fallbacks are followed transitively; remove one link.');
        }
      } else if (!state.has(next)) visit(next, [...trail, next]);
    }
    state.set(name, 'done');
  };
  for (const name of instances.keys()) if (!state.has(name)) visit(name, [name]);
}

function resolveDefaults(
  rawDefaults: unknown,
  resolved: ResolvedConfig,
  problem: (path: KeyPath, message: string, hint?: string) => void,
): void {
  const named: Partial<Record<ProviderKind, string>> = {};
  if (rawDefaults !== undefined) {
    if (!isPlainObject(rawDefaults)) {
      problem(['defaults'], `"defaults" must map a kind to a name (e.g. "llm: chat"); got ${describe(rawDefaults)}.`);
    } else {
      for (const [kind, name] of Object.entries(rawDefaults)) {
        if (!(PROVIDER_KINDS as readonly string[]).includes(kind)) {
          const guess = closest(kind, PROVIDER_KINDS);
          problem(['defaults', kind], `Unknown kind "${kind}" in defaults.`, `${guess ? `Did you mean "${guess}"? ` : ''}Kinds: ${PROVIDER_KINDS.join(', ')}.`);
        } else if (typeof name !== 'string') {
          problem(['defaults', kind], `defaults.${kind} must be a name; got ${describe(name)}.`);
        } else if (!resolved.instances[kind as ProviderKind].has(name)) {
          const names = [...resolved.instances[kind as ProviderKind].keys()];
          problem(['defaults', kind], `defaults.${kind} names "${name}", which is not a configured ${kind} entry.`, `Configured: ${names.join(', ') || '(none)'}.`);
        } else named[kind as ProviderKind] = name;
      }
    }
  }
  for (const kind of PROVIDER_KINDS) resolved.defaults[kind] = chooseDefault(kind, [...resolved.instances[kind].keys()], named[kind]);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') {
    // A URL's user:password is a secret wherever it was written.
    const shown = value.replace(/(\/\/)[^/@\s]*@/g, `$1${REDACTED}@`);
    return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown);
  }
  return String(value);
}

/** The known word nearest to a typo, when it is near enough to be the likely meaning. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
