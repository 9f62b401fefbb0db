import { Transform } from './validation.js';

const SECRET_FIELDS = Symbol.for('hush.providers.secretFields');

/** An HTTP header name (RFC 9110 token), as a `headers:` map's keys must be. */
export const HTTP_HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Marks a config field as secret: it prints as `***` in every error, log line and report. */
export function Secret(): PropertyDecorator {
  return (target, key) => {
    const ctor = target.constructor as { [SECRET_FIELDS]?: Set<string | symbol> };
    const inherited = ctor[SECRET_FIELDS];
    const own = new Set(inherited ?? []);
    own.add(key);
    Object.defineProperty(ctor, SECRET_FIELDS, { value: own, configurable: true });
  };
}

/**
 * The values of a config's secret fields, as they could appear in a message: strings as they are,
 * each value of a map (headers), and a Bearer token without its prefix (services echo it bare).
 */
export function secretValuesOf(configClass: object | undefined, config: object): string[] {
  const values: string[] = [];
  for (const key of secretFieldsOf(configClass)) {
    const value = (config as Record<string | symbol, unknown>)[key];
    if (typeof value === 'string') values.push(value);
    else if (value && typeof value === 'object') values.push(...Object.values(value).filter((v): v is string => typeof v === 'string'));
  }
  for (const value of [...values]) {
    const token = /^Bearer\s+(.+)$/i.exec(value)?.[1];
    if (token) values.push(token);
  }
  return values.filter((v) => v.length > 0);
}

/** Names of the secret fields of a config class (its own and inherited ones). */
export function secretFieldsOf(configClass: object | undefined): ReadonlySet<string | symbol> {
  return (configClass as { [SECRET_FIELDS]?: Set<string | symbol> } | undefined)?.[SECRET_FIELDS] ?? new Set();
}

/**
 * `${VAR}` interpolation yields strings; a numeric field takes "3000" as 3000. Anything else is left
 * as it was, so validation reports the value the user wrote.
 */
export function ToNumber(): PropertyDecorator {
  return Transform(({ value }) => (typeof value === 'string' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value.trim()) ? Number(value) : value));
}

/** Same for booleans: "true" / "false" from an environment variable. */
export function ToBoolean(): PropertyDecorator {
  return Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value));
}
