import type { MetadataStorage } from 'class-validator';
import { configValidation } from './validation.js';

/** A JSON Schema object. */
export type JsonSchema = Record<string, unknown>;

/** A class-validator DTO: any class whose constructor takes no arguments. */
export type DtoClass<T = unknown> = new () => T;

type ValidationMetadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number];

/** A DTO's schema as the LLM is asked for it, and the name the request carries. */
export interface ObjectSchema {
  /** The class name, cut to what OpenAI takes as a schema or tool name (`^[a-zA-Z0-9_-]{1,64}$`). */
  readonly name: string;
  /**
   * Every property is required and objects take no other keys (OpenAI's strict mode needs both);
   * an optional field may be `null`, which is read back as absent.
   */
  readonly schema: JsonSchema;
}

const schemas = new WeakMap<Function, ObjectSchema>();

/**
 * The JSON Schema of a class-validator DTO, made from its decorators' metadata once per class:
 * strings, numbers, integers, booleans, `@IsIn`/`@IsEnum`, min/max (and lengths, array sizes),
 * `@Matches`, arrays (`each: true`), nested DTOs (`@ValidateNested` + `@Type`) and optional fields.
 */
export function objectSchemaOf(dto: DtoClass): ObjectSchema {
  let found = schemas.get(dto);
  if (!found) {
    if (typeof dto !== 'function') throw new TypeError(`generateObject takes a DTO class; got ${typeof dto}.`);
    const name = (dto.name || 'object').replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
    found = { name, schema: classSchema(dto, []) };
    schemas.set(dto, found);
  }
  return found;
}

function classSchema(dto: DtoClass, path: DtoClass[]): JsonSchema {
  if (path.includes(dto)) {
    throw new TypeError(`${[...path, dto].map((c) => c.name).join(' → ')}: a DTO that contains itself has no finite schema; generateObject does not take it.`);
  }
  const { validator } = configValidation();
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const m of validator.getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false)) {
    byProperty.set(m.propertyName, [...(byProperty.get(m.propertyName) ?? []), m]);
  }
  if (byProperty.size === 0) throw new TypeError(`${dto.name} has no class-validator decorators: generateObject cannot make a schema of it.`);
  const properties: JsonSchema = {};
  for (const [property, metadata] of byProperty) {
    const optional = metadata.some((m) => m.type === 'conditionalValidation');
    const field = fieldSchema(dto, property, metadata, [...path, dto]);
    properties[property] = optional ? nullable(field) : field;
  }
  return { type: 'object', properties, required: [...byProperty.keys()], additionalProperties: false };
}

function fieldSchema(dto: DtoClass, property: string, metadata: ValidationMetadata[], path: DtoClass[]): JsonSchema {
  const checks = new Map<string, ValidationMetadata>();
  const each = new Map<string, ValidationMetadata>();
  let nested: ValidationMetadata | undefined;
  for (const m of metadata) {
    if (m.type === 'nestedValidation') nested = m;
    else if (m.type === 'customValidation' && m.name) (m.each ? each : checks).set(m.name, m);
  }
  const isArray = checks.has('isArray') || each.size > 0 || nested?.each === true || checks.has('arrayMinSize') || checks.has('arrayMaxSize');
  const item = nested ? nestedSchema(dto, property, isArray, path) : valueSchema(isArray ? each : checks);
  if (!isArray) return item;
  const schema: JsonSchema = { type: 'array', items: item };
  const min = number(checks.get('arrayMinSize'));
  const max = number(checks.get('arrayMaxSize'));
  if (min !== undefined) schema.minItems = min;
  if (max !== undefined) schema.maxItems = max;
  if (checks.has('arrayNotEmpty') && min === undefined) schema.minItems = 1;
  return schema;
}

function nestedSchema(dto: DtoClass, property: string, isArray: boolean, path: DtoClass[]): JsonSchema {
  // The class `@Type(() => Day)` names, as class-transformer builds it.
  const { transformer } = configValidation();
  const built = (transformer.plainToInstance(dto, { [property]: isArray ? [{}] : {} }) as Record<string, unknown>)[property];
  const sample = isArray && Array.isArray(built) ? built[0] : built;
  const nested = typeof sample === 'object' && sample !== null ? (sample.constructor as DtoClass) : undefined;
  if (!nested || nested === Object) {
    throw new TypeError(`${dto.name}.${property} has @ValidateNested but no @Type(() => Class): generateObject needs the class to describe it.`);
  }
  return classSchema(nested, path);
}

function valueSchema(checks: Map<string, ValidationMetadata>): JsonSchema {
  const schema: JsonSchema = {};
  const allowed = enumValues(checks);
  if (allowed) {
    const types = [...new Set(allowed.map((v) => (typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v)))];
    if (types.length === 1) schema.type = types[0];
    schema.enum = allowed;
    return schema;
  }
  if (checks.has('isInt')) schema.type = 'integer';
  else if (checks.has('isNumber') || checks.has('isPositive') || checks.has('isNegative')) schema.type = 'number';
  else if (checks.has('isBoolean')) schema.type = 'boolean';
  else if (checks.has('isObject')) schema.type = 'object';
  else if ([...checks.keys()].some((name) => STRING_CHECKS.has(name))) schema.type = 'string';

  const min = number(checks.get('min'));
  const max = number(checks.get('max'));
  if (min !== undefined) schema.minimum = min;
  if (max !== undefined) schema.maximum = max;
  if (checks.has('isPositive')) schema.exclusiveMinimum = 0;
  if (checks.has('isNegative')) schema.exclusiveMaximum = 0;

  if (schema.type === 'string') {
    const length = checks.get('isLength')?.constraints;
    const minLength = number(checks.get('minLength')) ?? (typeof length?.[0] === 'number' ? length[0] : undefined);
    const maxLength = number(checks.get('maxLength')) ?? (typeof length?.[1] === 'number' ? length[1] : undefined);
    if (minLength !== undefined) schema.minLength = minLength;
    else if (checks.has('isNotEmpty')) schema.minLength = 1;
    if (maxLength !== undefined) schema.maxLength = maxLength;
    const pattern = checks.get('matches')?.constraints?.[0];
    if (pattern instanceof RegExp) schema.pattern = pattern.source;
    else if (typeof pattern === 'string') schema.pattern = pattern;
  }
  return schema;
}

const STRING_CHECKS = new Set([
  'isString',
  'matches',
  'isEmail',
  'isUrl',
  'isUUID',
  'isDateString',
  'isISO8601',
  'minLength',
  'maxLength',
  'isLength',
  'isAlpha',
  'isAlphanumeric',
]);

function enumValues(checks: Map<string, ValidationMetadata>): unknown[] | undefined {
  const isIn = checks.get('isIn')?.constraints?.[0];
  if (Array.isArray(isIn)) return isIn;
  const entity = checks.get('isEnum')?.constraints?.[0];
  if (typeof entity !== 'object' || entity === null) return undefined;
  // A numeric TypeScript enum maps its values back to its names too: only the names' values count.
  return Object.keys(entity)
    .filter((key) => !/^\d+$/.test(key))
    .map((key) => (entity as Record<string, unknown>)[key]);
}

function number(m: ValidationMetadata | undefined): number | undefined {
  const value = m?.constraints?.[0];
  return typeof value === 'number' ? value : undefined;
}

/** The schema that also takes `null`: a type list where it can, else `anyOf`. */
function nullable(schema: JsonSchema): JsonSchema {
  if (Array.isArray(schema.enum)) {
    return { ...schema, ...(typeof schema.type === 'string' ? { type: [schema.type, 'null'] } : {}), enum: [...schema.enum, null] };
  }
  if (typeof schema.type === 'string' && schema.type !== 'object' && schema.type !== 'array') return { ...schema, type: [schema.type, 'null'] };
  if (schema.type === undefined) return schema;
  return { anyOf: [schema, { type: 'null' }] };
}
