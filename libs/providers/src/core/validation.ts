import { createRequire } from 'node:module';
import type * as ClassTransformer from 'class-transformer';
import type * as ClassValidator from 'class-validator';

/**
 * class-validator and class-transformer, loaded when a config is first validated rather than at
 * import: with what they pull in (validator.js, libphonenumber-js: some 300 files) they would be most
 * of the library's import time. The library's config classes use the decorators below, which keep
 * what they were given and hand it to class-validator (or class-transformer) when it is loaded, in
 * the order they were applied; after that they pass straight through.
 *
 * The list of decorators waiting is process-wide, as class-validator's own metadata storage is: it
 * describes classes, which are process-wide too.
 */

const requireHere = createRequire(import.meta.url);

interface Libraries {
  validator: typeof ClassValidator;
  transformer: typeof ClassTransformer;
}

let libraries: Libraries | undefined;
const waiting: Array<(libraries: Libraries) => void> = [];

/**
 * class-validator and class-transformer, with every decorator of the library's config classes
 * applied. Validate a config class only through this (the library does), or call it once before
 * using class-validator on one yourself.
 */
export function configValidation(): Libraries {
  libraries ??= { validator: requireHere('class-validator'), transformer: requireHere('class-transformer') };
  if (waiting.length > 0) for (const apply of waiting.splice(0)) apply(libraries);
  return libraries;
}

type Decorator = (target: object, key: string | symbol) => void;

function deferred(apply: (libraries: Libraries) => Decorator): Decorator {
  return (target, key) => {
    const run = (loaded: Libraries) => apply(loaded)(target, key);
    if (libraries) run(libraries);
    else waiting.push(run);
  };
}

/** A class-validator decorator factory whose decorators wait for class-validator. */
function fromValidator<K extends keyof typeof ClassValidator>(name: K): (typeof ClassValidator)[K] {
  const factory = (...args: unknown[]) => deferred(({ validator }) => (validator[name] as unknown as (...a: unknown[]) => Decorator)(...args));
  return factory as unknown as (typeof ClassValidator)[K];
}

export const IsArray = fromValidator('IsArray');
export const IsBoolean = fromValidator('IsBoolean');
export const IsIn = fromValidator('IsIn');
export const IsInt = fromValidator('IsInt');
export const IsNotEmpty = fromValidator('IsNotEmpty');
export const IsNumber = fromValidator('IsNumber');
export const IsObject = fromValidator('IsObject');
export const IsOptional = fromValidator('IsOptional');
export const IsString = fromValidator('IsString');
export const IsUrl = fromValidator('IsUrl');
export const Matches = fromValidator('Matches');
export const Max = fromValidator('Max');
export const Min = fromValidator('Min');
export const ValidateBy = fromValidator('ValidateBy');
export const ValidateIf = fromValidator('ValidateIf');
export const ValidateNested = fromValidator('ValidateNested');

/** class-transformer's `Transform`, waiting for class-transformer. */
export const Transform: typeof ClassTransformer.Transform = ((...args: Parameters<typeof ClassTransformer.Transform>) =>
  deferred(({ transformer }) => transformer.Transform(...args) as Decorator)) as typeof ClassTransformer.Transform;

/** class-transformer's `Type` (the class of a nested object), waiting for class-transformer. */
export const Type: typeof ClassTransformer.Type = ((...args: Parameters<typeof ClassTransformer.Type>) =>
  deferred(({ transformer }) => transformer.Type(...args) as Decorator)) as typeof ClassTransformer.Type;
