import type { ValidationError } from 'class-validator';

/**
 * What `generateObject` rejects with when the model's answer is still not a valid instance of the
 * DTO after every repair: the last answer's text, why it failed (class-validator's errors, or the
 * JSON parse error), and how many answers were asked for.
 */
export class StructuredOutputError extends Error {
  override readonly name = 'StructuredOutputError';

  constructor(
    message: string,
    /** The text of the last answer. */
    readonly raw: string,
    /** class-validator's errors for the last answer, or the error that kept it from being read as JSON. */
    readonly errors: ValidationError[] | Error,
    /** Answers asked for: 1 + the repairs used. */
    readonly attempts: number,
  ) {
    super(message);
  }
}
