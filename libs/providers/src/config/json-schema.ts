import type { MetadataStorage } from 'class-validator';
import { HTTP_HEADER_NAME } from '../core/config-fields.js';
import type { AnyProviderDefinition } from '../core/provider-definition.js';
import { PROVIDER_KINDS, type ProviderKind } from '../core/provider-kind.js';
import { configValidation } from '../core/validation.js';
import { CONFIG_FIELD_DOCS } from './config-field-docs.generated.js';
import { KEY_PREFIX, STORE_DEFAULTS } from './store-config.js';
import { INSTANCE_NAME } from './validate-config.js';

type Schema = Record<string, unknown>;
type ConfigClass = new () => unknown;
type ValidationMetadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number];

/** A string holding a `${VAR}` reference: its value is known only when the config is loaded. */
const VARIABLE = '\\$\\{';
const VARIABLE_STRING: Schema = { type: 'string', pattern: VARIABLE, description: 'A ${VAR} reference, checked when the config is loaded.' };
const OR_VARIABLE: Schema = { $ref: '#/$defs/variable' };

const KIND_NOUN: Record<ProviderKind, string> = { llm: 'LLM', embedding: 'embedding model', reranker: 'reranker' };

/**
 * A JSON Schema (draft 2020-12) of the YAML config, for editors and CI: made from the config classes
 * of `definitions` (class-validator metadata) and the doc comments of their fields. Each kind's entry
 * has one `if`/`then` branch per type. Strings holding `${VAR}` are accepted wherever interpolation
 * can turn them into a valid value (numbers, booleans, enums, URLs), since that is what editors see.
 */
export function configJsonSchema(definitions: readonly AnyProviderDefinition[]): Record<string, unknown> {
  // Later definitions replace earlier ones of the same kind and type, as forRoot({ providers }) does.
  const byKind = new Map<ProviderKind, Map<string, AnyProviderDefinition>>(PROVIDER_KINDS.map((kind) => [kind, new Map()]));
  for (const definition of definitions) byKind.get(definition.kind)?.set(definition.type, definition);

  const defs: Record<string, Schema> = { variable: VARIABLE_STRING };
  const properties: Record<string, Schema> = {};
  const typeDefs = PROVIDER_KINDS.flatMap((kind) => [...byKind.get(kind)!.values()].map((definition) => ({ kind, definition, ...typeSchema(definition) })));
  for (const { kind, definition, schema } of typeDefs) defs[`${kind}.${definition.type}`] = schema;
  shareFields(typeDefs, defs);
  for (const kind of PROVIDER_KINDS) {
    const types = [...byKind.get(kind)!.values()];
    defs[`${kind}-deployment`] = deploymentSchema(kind, types);
    defs[kind] = entrySchema(kind, types);
    properties[kind] = {
      type: ['object', 'null'],
      description: `Named ${KIND_NOUN[kind]}s: each name is also the injection name.`,
      propertyNames: { pattern: INSTANCE_NAME.source },
      additionalProperties: { $ref: ref(kind) },
    };
  }
  properties.defaults = {
    type: ['object', 'null'],
    description: 'The default name per kind; else the entry named `default`, else the only entry.',
    properties: Object.fromEntries(
      PROVIDER_KINDS.map((kind) => [kind, { type: ['string', 'null'], minLength: 1, description: `The ${KIND_NOUN[kind]} injected without a name.` }]),
    ),
    additionalProperties: false,
  };
  properties.store = storeSchema();

  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: '@hush/providers config',
    description: 'Named LLMs, embedding models and rerankers (config/providers.yaml). See docs/configuration.md.',
    type: 'object',
    properties,
    additionalProperties: false,
    $defs: defs,
  };
}

// A JSON pointer to a $defs entry, escaped as pointers and URI fragments need.
function ref(name: string): string {
  return `#/$defs/${encodeURIComponent(name.replace(/~/g, '~0').replace(/\//g, '~1'))}`;
}

/**
 * A field written alike in several types (`timeoutMs`, `pricing`, ...) is kept once in `$defs`, named
 * after the class that declares it, and referenced from each type.
 */
function shareFields(typeDefs: Array<{ schema: Schema; owners: Map<string, string> }>, defs: Record<string, Schema>): void {
  const uses = new Map<string, number>();
  for (const { schema } of typeDefs) for (const field of Object.values(schema.properties as Record<string, Schema>)) {
    const key = JSON.stringify(field);
    uses.set(key, (uses.get(key) ?? 0) + 1);
  }
  const names = new Map<string, string>();
  for (const { schema, owners } of typeDefs) {
    const fields = schema.properties as Record<string, Schema>;
    for (const [property, field] of Object.entries(fields)) {
      const key = JSON.stringify(field);
      if ((uses.get(key) ?? 0) < 2 || !owners.has(property)) continue;
      let name = names.get(key);
      if (name === undefined) {
        const base = `${owners.get(property)}.${property}`;
        name = base;
        for (let n = 2; name in defs; n++) name = `${base}.${n}`;
        names.set(key, name);
        defs[name] = field;
      }
      fields[property] = { $ref: ref(name) };
    }
  }
}

/** One type's keys, all optional here: which are required depends on where the keys are written. */
function typeSchema(definition: AnyProviderDefinition): { schema: Schema; owners: Map<string, string> } {
  const { properties, owners } = classSchema(definition.config);
  const { type: _type, deployments: _deployments, ...fields } = properties;
  // These three are per type (the type's name, and its own deployments): never shared.
  for (const own of ['type', 'deployments', 'weight']) owners.delete(own);
  const schema = {
    title: `${definition.kind}: ${definition.type}`,
    ...(definition.description ? { description: definition.description } : {}),
    type: 'object',
    properties: {
      type: { const: definition.type, description: 'Picks the provider implementation.' },
      ...fields,
      deployments: {
        type: 'array',
        minItems: 1,
        description: (properties.deployments as Schema | undefined)?.description,
        items: { $ref: ref(`${definition.kind}-deployment`) },
      },
      weight: { type: 'number', exclusiveMinimum: 0, description: 'In a `deployments` item: its share of the traffic; default 1.' },
    },
    additionalProperties: false,
  };
  return { schema, owners };
}

/** An item of `deployments`: with its own `type`, that type's keys; without, the entry's type decides (see entrySchema). */
function deploymentSchema(kind: ProviderKind, types: AnyProviderDefinition[]): Schema {
  return {
    type: 'object',
    description: 'One deployment: keys of its type (over the keys beside `deployments`) and a `weight`.',
    properties: { deployments: false },
    allOf: types.map((definition) => ({ if: hasType(definition.type), then: { $ref: ref(`${kind}.${definition.type}`) } })),
  };
}

function hasType(type: string): Schema {
  return { type: 'object', properties: { type: { const: type } }, required: ['type'] };
}

function entrySchema(kind: ProviderKind, types: AnyProviderDefinition[]): Schema {
  const list = types.map((d) => (d.description ? `${d.type}: ${d.description}` : d.type)).join('; ');
  return {
    // null removes an entry of the base file in an overlay.
    type: ['object', 'null'],
    description: `An ${KIND_NOUN[kind]}: \`type\` picks the provider; the other keys depend on it.`,
    properties: {
      type: { enum: types.map((d) => d.type), description: `Picks the provider implementation. ${list}.` },
      weight: false,
    },
    allOf: [
      // With deployments, the type and the required keys may be given in each deployment instead.
      { if: { type: 'object', not: { type: 'object', required: ['deployments'] } }, then: { type: 'object', required: ['type'] } },
      ...types.map((definition) => {
        const own = ref(`${kind}.${definition.type}`);
        return {
          if: hasType(definition.type),
          then: {
            $ref: own,
            if: { type: 'object', required: ['deployments'] },
            then: { type: 'object', properties: { deployments: { type: 'array', items: { if: { type: 'object', not: { type: 'object', required: ['type'] } }, then: { $ref: own } } } } },
            else: { type: 'object', required: ['type', ...classSchema(definition.config).required.filter((k) => k !== 'type')] },
          },
        };
      }),
    ],
  };
}

function storeSchema(): Schema {
  const docs = CONFIG_FIELD_DOCS.RedisStoreConfig ?? {};
  const orVariable = (schema: Schema): Schema => ({ anyOf: [schema, OR_VARIABLE] });
  const redis: Record<string, Schema> = {
    type: true as unknown as Schema,
    url: { type: 'string', pattern: `^rediss?://|${VARIABLE}`, description: docs.url },
    keyPrefix: { type: ['string', 'null'], pattern: `(?:${KEY_PREFIX.source})|${VARIABLE}`, description: docs.keyPrefix },
    required: {
      anyOf: [{ type: ['boolean', 'null'] }, { type: 'string', pattern: `^(true|false)$|${VARIABLE}` }],
      description: docs.required,
    },
    timeoutMs: { ...orVariable({ type: ['integer', 'null'], minimum: 1, maximum: 60_000 }), description: docs.timeoutMs },
  };
  return {
    type: ['object', 'null'],
    description: 'Where rate budgets, cooldowns and caches live: this process (memory, the default) or a Redis server shared by every process.',
    properties: {
      type: { enum: ['memory', 'redis'], description: 'memory: this process only (the default); redis: shared by every process on the same server.' },
    },
    required: ['type'],
    allOf: [
      { if: hasType('memory'), then: { properties: { type: true }, additionalProperties: false } },
      { if: hasType('redis'), then: { properties: redis, required: ['url'], additionalProperties: false } },
    ],
    default: { type: 'memory' },
    examples: [{ type: 'redis', url: '${REDIS_URL}', keyPrefix: STORE_DEFAULTS.keyPrefix }],
  };
}

/** The properties of a config class (or a nested one, such as `pricing`), and which are required. */
function classSchema(configClass: ConfigClass): { properties: Record<string, Schema>; required: string[]; owners: Map<string, string> } {
  const { validator } = configValidation();
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const m of validator.getMetadataStorage().getTargetValidationMetadatas(configClass, '', true, false)) {
    byProperty.set(m.propertyName, [...(byProperty.get(m.propertyName) ?? []), m]);
  }
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  const owners = new Map<string, string>();
  // `type` and the required keys first: the order editors offer them in.
  const entries = [...byProperty].sort(([a, am], [b, bm]) => rank(a, am) - rank(b, bm));
  for (const [property, metadata] of entries) {
    const optional = metadata.some((m) => m.type === 'conditionalValidation');
    if (!optional) required.push(property);
    properties[property] = fieldSchema(configClass, property, metadata, optional);
    owners.set(property, mostDerived(metadata.map((m) => m.target as ConfigClass))[0]!.name);
  }
  return { properties, required, owners };
}

function rank(property: string, metadata: ValidationMetadata[]): number {
  if (property === 'type') return 0;
  return metadata.some((m) => m.type === 'conditionalValidation') ? 2 : 1;
}

function fieldSchema(configClass: ConfigClass, property: string, metadata: ValidationMetadata[], optional: boolean): Schema {
  const description = docOf(
    metadata.map((m) => m.target as ConfigClass),
    property,
  );
  const checks = new Map<string, ValidationMetadata>();
  const eachChecks = new Map<string, ValidationMetadata>();
  for (const m of metadata) if (m.type === 'customValidation' && m.name) (m.each ? eachChecks : checks).set(m.name, m);
  const nested = metadata.some((m) => m.type === 'nestedValidation') ? nestedClass(configClass, property) : undefined;
  const transformed = transformsOf(configClass, property);

  const schema: Schema = {};
  let type: string | undefined;
  if (nested) {
    const inner = classSchema(nested);
    Object.assign(schema, { properties: inner.properties, additionalProperties: false }, inner.required.length ? { required: inner.required } : {});
    type = 'object';
  } else if (checks.has('isHeaderMap')) {
    Object.assign(schema, { propertyNames: { pattern: HTTP_HEADER_NAME.source }, additionalProperties: { type: 'string' } });
    type = 'object';
  } else if (checks.has('isInt')) type = 'integer';
  else if (checks.has('isNumber')) type = 'number';
  else if (checks.has('isBoolean')) type = 'boolean';
  else if (checks.has('isArray')) type = 'array';
  else if (checks.has('isObject')) type = 'object';
  else if (checks.has('isString') || checks.has('isUrl') || checks.has('matches')) type = 'string';

  const min = checks.get('min')?.constraints?.[0];
  const max = checks.get('max')?.constraints?.[0];
  if (typeof min === 'number') schema.minimum = min;
  if (typeof max === 'number') schema.maximum = max;
  if (type === 'string' && checks.has('isNotEmpty')) schema.minLength = 1;

  const patterns: string[] = [];
  const url = checks.get('isUrl')?.constraints?.[0] as { protocols?: string[]; require_protocol?: boolean; disallow_auth?: boolean } | undefined;
  if (checks.has('isUrl') && url?.require_protocol) {
    const protocols = (url.protocols ?? ['http', 'https', 'ftp']).join('|');
    // The part before the path may not hold user:password@ where credentials are refused.
    patterns.push(url.disallow_auth ? `^(?:${protocols})://[^\\s/?#@]+(?:[/?#]\\S*)?$` : `^(?:${protocols})://\\S+$`);
  }
  const matches = checks.get('matches')?.constraints?.[0];
  if (matches instanceof RegExp) patterns.push(matches.source);
  else if (typeof matches === 'string') patterns.push(matches);

  const allowed = checks.get('isIn')?.constraints?.[0];
  const items: Schema = {};
  if (eachChecks.has('isString')) items.type = 'string';
  if (eachChecks.has('isNotEmpty') && items.type === 'string') items.minLength = 1;
  const eachAllowed = eachChecks.get('isIn')?.constraints?.[0];
  if (Array.isArray(eachAllowed)) items.enum = eachAllowed;
  if (type === 'array' && Object.keys(items).length > 0) schema.items = items;

  let result: Schema;
  if (Array.isArray(allowed)) {
    // An enum's value may come from a variable as well.
    result = { anyOf: [{ enum: optional ? [...allowed, null] : allowed }, OR_VARIABLE] };
  } else if (type === 'string' && patterns.length > 0) {
    // Several patterns must all hold; a ${VAR} string passes each of them.
    const [first, ...more] = patterns.map((p) => `(?:${p})|${VARIABLE}`);
    result = { ...schema, type: nullable(type, optional), pattern: first, ...(more.length ? { allOf: more.map((pattern) => ({ pattern })) } : {}) };
  } else if (type !== undefined) {
    result = { ...schema, type: nullable(type, optional) };
    const fromString = (transformed.toNumber && (type === 'integer' || type === 'number')) || (transformed.toBoolean && type === 'boolean');
    if (fromString) result = { anyOf: [result, OR_VARIABLE] };
  } else {
    // A check this schema cannot express (a custom validator): any value, checked when loaded.
    result = {};
  }
  return description ? { ...result, description } : result;
}

function nullable(type: string, optional: boolean): string | string[] {
  // An overlay's `key: null` removes the key of the base file, which is fine wherever it is optional.
  return optional ? [type, 'null'] : type;
}

function mostDerived(targets: ConfigClass[]): ConfigClass[] {
  return [...new Set(targets)].sort((a, b) => (a.prototype instanceof b ? -1 : b.prototype instanceof a ? 1 : 0));
}

/** The doc comment of a field, from the most derived of the classes that declare it. */
function docOf(targets: ConfigClass[], property: string): string | undefined {
  for (const target of mostDerived(targets)) {
    const doc = CONFIG_FIELD_DOCS[target.name]?.[property];
    if (doc) return doc;
  }
  return undefined;
}

/** The class of a nested config object (`@Type(() => LLMPricing)`), as class-transformer builds it. */
function nestedClass(configClass: ConfigClass, property: string): ConfigClass | undefined {
  const built = probe(configClass, property, {});
  const ctor = typeof built === 'object' && built !== null ? (built.constructor as ConfigClass) : undefined;
  return ctor && ctor !== Object ? ctor : undefined;
}

/** Whether the field turns strings from `${VAR}` into numbers (`@ToNumber()`) or booleans (`@ToBoolean()`). */
function transformsOf(configClass: ConfigClass, property: string): { toNumber: boolean; toBoolean: boolean } {
  return { toNumber: probe(configClass, property, '7') === 7, toBoolean: probe(configClass, property, 'true') === true };
}

function probe(configClass: ConfigClass, property: string, value: unknown): unknown {
  try {
    return (configValidation().transformer.plainToInstance(configClass, { [property]: value }) as Record<string, unknown>)[property];
  } catch {
    return undefined;
  }
}
