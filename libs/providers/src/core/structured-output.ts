import type { ValidationError } from 'class-validator';
import type { ChatCompletion, ChatCompletionMessageParam, GenerateObjectOptions, GenerateObjectResult, GenerateOptions } from './llm.js';
import { objectSchemaOf, type DtoClass, type JsonSchema } from './object-schema.js';
import { StructuredOutputError } from './structured-output-error.js';
import { configValidation } from './validation.js';

export const DEFAULT_MAX_REPAIRS = 2;
const MAX_REPAIRS_LIMIT = 10;

/** `maxRepairs` as given, checked: a whole number from 0 to 10. */
export function maxRepairsOf(options: { maxRepairs?: number }): number {
  const value = options.maxRepairs ?? DEFAULT_MAX_REPAIRS;
  if (!Number.isInteger(value) || value < 0 || value > MAX_REPAIRS_LIMIT) {
    throw new RangeError(`generateObject maxRepairs must be a whole number from 0 to ${MAX_REPAIRS_LIMIT}; got ${String(options.maxRepairs)}.`);
  }
  return value;
}

/** The request parameter that asks for the DTO: every type maps it to its own way (see docs/structured-output.md). */
export function structuredResponseFormat(dto: DtoClass): NonNullable<GenerateOptions['response_format']> {
  const { name, schema } = objectSchemaOf(dto);
  return { type: 'json_schema', json_schema: { name, schema, strict: true } };
}

/**
 * Asks `generate` for an instance of `dto`: the answer is parsed, turned into the class and
 * validated; an invalid answer is sent back with what is wrong, up to `maxRepairs` times. Each
 * round is one ordinary call of `generate` (its own retries, fallbacks and telemetry).
 */
export async function generateObjectWith<T extends object>(
  generate: (messages: ChatCompletionMessageParam[], options: GenerateOptions) => Promise<ChatCompletion>,
  dto: DtoClass<T>,
  messages: ChatCompletionMessageParam[],
  options: GenerateObjectOptions,
): Promise<GenerateObjectResult<T>> {
  const { maxRepairs: _maxRepairs, ...callOptions } = options;
  const maxRepairs = maxRepairsOf(options);
  const responseFormat = structuredResponseFormat(dto);
  const { schema } = objectSchemaOf(dto);
  let conversation = [...messages];
  for (let attempt = 1; ; attempt++) {
    const completion = await generate(conversation, { ...callOptions, response_format: responseFormat });
    const raw = answerText(completion);
    const read = await readObject(dto, schema, raw);
    if ('object' in read) return { object: read.object, completion, attempts: attempt };
    if (attempt > maxRepairs) {
      const why = Array.isArray(read.errors)
        ? `it broke ${read.errors.length} rule${read.errors.length === 1 ? '' : 's'}: ${describeErrors(read.errors).join('; ')}`
        : read.errors.message;
      throw new StructuredOutputError(
        `generateObject(${dto.name}): the answer is not a valid ${dto.name} after ${attempt} attempt${attempt === 1 ? '' : 's'} (maxRepairs ${maxRepairs}); ${why}`,
        raw,
        read.errors,
        attempt,
      );
    }
    conversation = [...conversation, { role: 'assistant', content: raw }, { role: 'user', content: repairRequest(dto, read.errors) }];
  }
}

/** The answer's text: the message content, or the arguments of its only tool call when a driver answered that way. */
function answerText(completion: ChatCompletion): string {
  const message = completion.choices?.[0]?.message;
  if (typeof message?.content === 'string' && message.content.trim() !== '') return message.content;
  const call = message?.tool_calls?.[0];
  if (call && call.type === 'function') return call.function.arguments;
  return message?.content ?? '';
}

type Read<T> = { object: T } | { errors: ValidationError[] | Error };

/** Parses, instantiates and validates one answer. */
export async function readObject<T extends object>(dto: DtoClass<T>, schema: JsonSchema, raw: string): Promise<Read<T>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { errors: new SyntaxError(`the answer is not JSON (${(err as Error).message})`) };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      errors: new SyntaxError(`the answer is JSON but not an object (${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed})`),
    };
  }
  const { validator, transformer } = configValidation();
  const object = transformer.plainToInstance(dto, withoutNullOptionals(parsed, schema) as object) as T;
  // Keys the DTO does not declare are dropped rather than refused: the schema already asks for none,
  // and a stray key is no reason to ask again. An answer that is not the class is refused.
  const errors = await validator.validate(object, { whitelist: true, forbidNonWhitelisted: false, forbidUnknownValues: true });
  return errors.length > 0 ? { errors } : { object };
}

/** `null` where the schema only allows it because the field is optional means the field is absent. */
function withoutNullOptionals(value: unknown, schema: JsonSchema | undefined): unknown {
  if (!schema || typeof value !== 'object' || value === null) return value;
  const shape = Array.isArray(schema.anyOf) ? (schema.anyOf[0] as JsonSchema) : schema;
  if (Array.isArray(value)) return value.map((item) => withoutNullOptionals(item, shape.items as JsonSchema | undefined));
  const properties = shape.properties as Record<string, JsonSchema> | undefined;
  if (!properties) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (field === null && key in properties && acceptsNull(properties[key]!)) continue;
    out[key] = withoutNullOptionals(field, properties[key]);
  }
  return out;
}

function acceptsNull(schema: JsonSchema): boolean {
  return (
    (Array.isArray(schema.type) && schema.type.includes('null')) || (Array.isArray(schema.anyOf) && schema.anyOf.some((s) => (s as JsonSchema).type === 'null'))
  );
}

/** The message that asks the model to correct its answer. */
function repairRequest(dto: DtoClass, errors: ValidationError[] | Error): string {
  const problems = Array.isArray(errors) ? describeErrors(errors).map((line) => `- ${line}`) : [`- ${errors.message}`];
  return [`Your answer is not a valid ${dto.name}:`, ...problems, 'Answer again with the corrected JSON object only.'].join('\n');
}

/** class-validator's errors as `path: message` lines, nested ones with their full path. */
export function describeErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => `${path}: ${message}`);
    return [...own, ...describeErrors(error.children ?? [], path)];
  });
}
