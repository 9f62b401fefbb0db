import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, type ValidationArguments } from 'class-validator';

/**
 * A quick check that a request body is valid for its DTO class, compiled once per class from the
 * class-validator decorators of the class (the same rules, run through the same constraint
 * functions), for the gateway's `ValidationPipe` (see validation.ts).
 *
 * It only ever says "valid for sure" (true) or "not sure" (false): on false the pipe runs the full
 * class-transformer + class-validator path, which makes every error message, so a refusal is always
 * worded by class-validator itself. True is only given where the full path would accept the body and
 * hand on the same data: every key is a decorated property (`whitelist` + `forbidNonWhitelisted`);
 * each present property passes all its constraints (optional ones skipped when null or undefined,
 * `each` over arrays, nested DTOs through their own check); and no object in the body has a key that
 * the full path would strip (`__proto__`, `constructor`, `prototype`). Anything it does not know (an
 * async constraint, a decorator type it has no rule for, a nested value class-transformer would not
 * build) makes it say false.
 *
 * The body is then passed on as parsed (a plain object, not a DTO instance): the services read its
 * fields and its own keys, which are the same.
 */
export type BodyCheck = (value: unknown) => boolean;

// class-validator's ValidationTypes.
const CUSTOM = 'customValidation';
const NESTED = 'nestedValidation';
const CONDITIONAL = 'conditionalValidation';
const WHITELIST = 'whitelistValidation';

type Constraint = { validate(value: unknown, args: ValidationArguments): unknown };
type Metadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number] & {
  validateIf?: (object: object, value: unknown) => boolean;
};

interface CustomRule {
  property: string;
  constraints: unknown[];
  each: boolean;
  validateIf?: (object: object, value: unknown) => boolean;
  validators: Array<{ instance: Constraint; async: boolean }>;
}

interface PropertyPlan {
  name: string;
  conditions: Array<(object: object, value: unknown) => boolean>;
  custom: CustomRule[];
  /** Nested DTO (`@ValidateNested()` + `@Type()`): the check of its class, or null where none can be made. */
  nested?: BodyCheck | null;
}

const compiled = new Map<Function, BodyCheck | null>();

/** The check for a DTO class, or undefined where none can be compiled (the full path is then always taken). */
export function bodyCheck(metatype: Function): BodyCheck | undefined {
  let check = compiled.get(metatype);
  if (check === undefined) {
    // Placed first: a class that nests itself gets no quick check, rather than recursing.
    compiled.set(metatype, null);
    check = compile(metatype) ?? null;
    compiled.set(metatype, check);
  }
  return check ?? undefined;
}

const isOptionalCondition = (m: Metadata) => m.type === CONDITIONAL && m.name === 'isOptional';

function compile(metatype: Function): BodyCheck | undefined {
  const storage = getMetadataStorage();
  // As the pipe's validator asks for them (no groups, `always` off).
  const metadatas = storage.getTargetValidationMetadatas(metatype, '', false, false, undefined) as Metadata[];
  // No rules at all: class-validator refuses the value (forbidUnknownValues); the full path says how.
  if (metadatas.length === 0) return undefined;
  const plans = new Map<string, PropertyPlan>();
  for (const m of metadatas) {
    const plan = plans.get(m.propertyName) ?? { name: m.propertyName, conditions: [], custom: [] };
    plans.set(m.propertyName, plan);
    if ((m.groups?.length ?? 0) > 0 || m.always) return undefined;
    switch (m.type) {
      case CONDITIONAL:
        plan.conditions.push(m.constraints[0] as (object: object, value: unknown) => boolean);
        break;
      case CUSTOM: {
        if (!m.constraintCls) return undefined;
        const validators = storage.getTargetValidatorConstraints(m.constraintCls).map((c) => ({ instance: c.instance as Constraint, async: c.async }));
        if (validators.length === 0) return undefined;
        plan.custom.push({ property: m.propertyName, constraints: m.constraints, each: m.each === true, validateIf: m.validateIf, validators });
        break;
      }
      case NESTED:
        plan.nested = nestedCheck(metatype, m.propertyName);
        break;
      case WHITELIST:
        break;
      default:
        // isDefined, promiseValidation, ...: not known here.
        return undefined;
    }
  }
  // Properties checked whatever the body holds: those not skipped when absent (`@IsOptional()` only).
  const always = [...plans.values()].filter(
    (p) => !(p.conditions.length > 0 && metadatas.every((m) => m.propertyName !== p.name || m.type !== CONDITIONAL || isOptionalCondition(m))),
  );
  const optionalOnly = new Set([...plans.values()].filter((p) => !always.includes(p)).map((p) => p.name));
  const targetName = metatype.name;

  return (value: unknown): boolean => {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !hasOnlyPlainData(value)) return false;
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) if (!plans.has(key)) return false;
    for (const plan of always) if (!passes(plan, object, targetName)) return false;
    for (const key of Object.keys(object)) {
      if (optionalOnly.has(key) && object[key] != null && !passes(plans.get(key)!, object, targetName)) return false;
    }
    return true;
  };
}

/** One property, as class-validator's `performValidations` runs it (conditions, constraints, nested). */
function passes(plan: PropertyPlan, object: Record<string, unknown>, targetName: string): boolean {
  const value = object[plan.name];
  for (const condition of plan.conditions) if (!condition(object, value)) return true;
  for (const rule of plan.custom) {
    if (rule.validateIf && !rule.validateIf(object, value)) continue;
    const args: ValidationArguments = { targetName, property: rule.property, object, value, constraints: rule.constraints };
    for (const { instance, async } of rule.validators) {
      if (async) return false;
      if (rule.each && Array.isArray(value)) {
        for (const item of value) if (!isTrue(instance.validate(item, args))) return false;
      } else if (!isTrue(instance.validate(value, args))) {
        return false;
      }
    }
  }
  if (plan.nested !== undefined && value !== undefined) {
    if (plan.nested === null) return false;
    if (Array.isArray(value)) return value.every((item) => plan.nested!(item));
    return plan.nested(value);
  }
  return true;
}

/** A constraint's answer, where a promise (an async constraint) counts as "not sure". */
function isTrue(result: unknown): boolean {
  return result === true || (!!result && typeof (result as { then?: unknown }).then !== 'function');
}

/**
 * The check of a nested DTO property, found the way the full path finds its class: class-transformer
 * builds the nested value from `@Type()`. Without it the value stays a plain object, which
 * class-validator refuses (forbidUnknownValues): no quick check then.
 */
function nestedCheck(metatype: Function, property: string): BodyCheck | null {
  const built = (plainToInstance(metatype as new () => object, { [property]: {} }) as Record<string, unknown>)[property];
  const nested = built && typeof built === 'object' ? (built as object).constructor : undefined;
  if (!nested || nested === Object) return null;
  return bodyCheck(nested) ?? null;
}

const STRIPPED = ['__proto__', 'constructor', 'prototype'];

/**
 * Whether the value is JSON data with none of the keys that the full path strips from every object
 * (Nest's `stripProtoKeys`), so that passing it on as it is hands on what the full path would.
 */
function hasOnlyPlainData(root: object): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current !== 'object' || current === null) continue;
    if (Array.isArray(current)) {
      for (const item of current) if (typeof item === 'object' && item !== null) stack.push(item);
      continue;
    }
    if (Object.getPrototypeOf(current) !== Object.prototype) return false;
    for (const key of STRIPPED) if (Object.hasOwn(current, key)) return false;
    for (const key in current) {
      const item = (current as Record<string, unknown>)[key];
      if (typeof item === 'object' && item !== null) stack.push(item);
    }
  }
  return true;
}
