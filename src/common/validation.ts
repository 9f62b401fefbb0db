import { ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { ValidateBy, type ValidationError, type ValidationOptions } from 'class-validator';
import { bodyCheck } from './fast-validation.js';
import { OpenAIError } from './openai-error.js';

/** Where inside a value a problem is (`[2].content`, relative to the property) and what it is. */
export interface NestedProblem {
  path: string;
  message: string;
  /** Default `invalid_value`; `missing_required_parameter` words the message as OpenAI does. */
  code?: 'invalid_value' | 'invalid_type' | 'missing_required_parameter' | 'unsupported_value';
}

/** Checks a whole value and reports its first problem, with the path inside it. */
export type ProblemFinder = (value: unknown) => NestedProblem | undefined;

const NESTED_CHECKS = new Map<string, ProblemFinder>();

/**
 * A property decorator backed by a function that finds the first problem inside the value (a message
 * list, a document list), so that the error names the exact element: `param: "messages[1].content"`.
 */
export function ValidateDeep(name: string, find: ProblemFinder, options?: ValidationOptions): PropertyDecorator {
  NESTED_CHECKS.set(name, find);
  return ValidateBy(
    {
      name,
      validator: {
        validate: (value: unknown) => find(value) === undefined,
        defaultMessage: (args) => find(args?.value)?.message ?? `${args?.property} is invalid`,
      },
    },
    options,
  );
}

/** Constraints that say the value has the wrong type (code `invalid_type`), checked before range constraints. */
const TYPE_CONSTRAINTS = new Set(['isString', 'isNumber', 'isInt', 'isBoolean', 'isArray', 'isObject', 'isDefined', 'isNotEmptyObject']);

interface FoundError {
  path: string;
  error: ValidationError;
}

function pathOf(prefix: string, property: string): string {
  if (/^\d+$/.test(property)) return `${prefix}[${property}]`;
  return prefix ? `${prefix}.${property}` : property;
}

function firstError(errors: readonly ValidationError[], prefix = ''): FoundError | undefined {
  for (const error of errors) {
    const path = pathOf(prefix, error.property);
    if (error.constraints && Object.keys(error.constraints).length > 0) return { path, error };
    const child = firstError(error.children ?? [], path);
    if (child) return child;
  }
  return undefined;
}

/**
 * One class-validator failure as OpenAI reports a bad body: one error, naming the field in `param`
 * (a path: `temperature`, `messages[0].role`, `stream_options.include_usage`).
 */
export function validationErrorToOpenAI(errors: readonly ValidationError[]): OpenAIError {
  const found = firstError(errors);
  if (!found) return OpenAIError.badRequest('The request body is invalid.');
  const { path, error } = found;
  const constraints = error.constraints!;
  const names = Object.keys(constraints);

  if (names.includes('whitelistValidation')) {
    return OpenAIError.badRequest(`Unrecognized request argument supplied: ${path}`, path, 'unknown_parameter');
  }
  if (error.value === undefined || error.value === null) {
    return OpenAIError.badRequest(`Missing required parameter: '${path}'.`, path, 'missing_required_parameter');
  }
  for (const name of names) {
    const find = NESTED_CHECKS.get(name);
    const problem = find?.(error.value);
    if (problem) {
      const param = problem.path ? (problem.path.startsWith('[') ? `${path}${problem.path}` : `${path}.${problem.path}`) : path;
      if (problem.code === 'missing_required_parameter') {
        return OpenAIError.badRequest(`Missing required parameter: '${param}'.`, param, problem.code);
      }
      return OpenAIError.badRequest(`Invalid value for '${param}': ${problem.message}`, param, problem.code ?? 'invalid_value');
    }
  }
  const name = names.find((n) => TYPE_CONSTRAINTS.has(n)) ?? names[0]!;
  const context = error.contexts?.[name] as { code?: string } | undefined;
  const code = context?.code ?? (TYPE_CONSTRAINTS.has(name) ? 'invalid_type' : 'invalid_value');
  return OpenAIError.badRequest(`Invalid value for '${path}': ${constraints[name]}.`, path, code);
}

class GatewayValidationPipe extends ValidationPipe {
  constructor(
    options: ConstructorParameters<typeof ValidationPipe>[0],
    private readonly quick: boolean,
  ) {
    super(options);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      // A JSON array, string or number is valid JSON but not a request: say so, not "model is missing".
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw OpenAIError.badRequest('The request body must be a JSON object, sent with Content-Type: application/json.', null, 'invalid_json');
      }
      // A body that is valid for sure is passed on as parsed; anything else takes the full path,
      // which words the refusal (see fast-validation.ts).
      if (this.quick && metadata.metatype && bodyCheck(metadata.metatype)?.(value)) return value;
    }
    return super.transform(value, metadata);
  }
}

/**
 * The gateway's validation: DTO classes with class-validator decorators. Unknown top-level fields
 * are refused (as OpenAI refuses them); nested free-form objects (tools, response_format, message
 * parts) are checked by their own validators and passed on as sent. A body is first checked by the
 * DTO's compiled check (`quick`, on by default; off, every body takes class-transformer and
 * class-validator, which is what the quick check is tested against).
 */
export function createValidationPipe(options: { quick?: boolean } = {}): ValidationPipe {
  return new GatewayValidationPipe(
    {
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      validationError: { target: false, value: true },
      exceptionFactory: (errors) => validationErrorToOpenAI(errors),
    },
    options.quick ?? true,
  );
}
