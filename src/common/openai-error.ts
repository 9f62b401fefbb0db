import { HttpException } from '@nestjs/common';

/** OpenAI's error body: `{ error: { message, type, param, code } }`. */
export interface OpenAIErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/**
 * An error the gateway answers in OpenAI's shape. Thrown from pipes, guards and services; the
 * exception filter writes it out (as JSON, or as an SSE `error` event once a stream has started).
 */
export class OpenAIError extends HttpException {
  readonly body: OpenAIErrorBody;
  readonly headers: Record<string, string>;

  constructor(status: number, body: { message: string; type?: string; param?: string | null; code?: string | null }, headers: Record<string, string> = {}) {
    const full: OpenAIErrorBody = {
      message: body.message,
      type: body.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: body.param ?? null,
      code: body.code ?? null,
    };
    super({ error: full }, status);
    this.body = full;
    this.headers = headers;
  }

  static badRequest(message: string, param: string | null = null, code: string | null = null): OpenAIError {
    return new OpenAIError(400, { message, type: 'invalid_request_error', param, code });
  }
}

/** Writes an OpenAI error on a plain Node response (used where Nest's filters do not reach). */
export function writeOpenAIError(
  res: { headersSent: boolean; writableEnded: boolean; setHeader(name: string, value: string): unknown; statusCode: number; end(body: string): unknown },
  status: number,
  body: OpenAIErrorBody,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.writableEnded) return;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(JSON.stringify({ error: body }));
}

/** The body-parser's refusal of a request body, as OpenAI words it. */
export function bodyParserError(err: unknown): { status: number; body: OpenAIErrorBody } | undefined {
  const e = err as { type?: unknown; status?: unknown; expose?: unknown } | null;
  if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || typeof e.status !== 'number') return undefined;
  switch (e.type) {
    case 'entity.parse.failed':
      return {
        status: 400,
        body: {
          message:
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_json',
        },
      };
    case 'entity.too.large':
      return { status: 413, body: { message: 'The request body is too large.', type: 'invalid_request_error', param: null, code: 'request_too_large' } };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return {
        status: 415,
        body: { message: 'The request body must be JSON in UTF-8.', type: 'invalid_request_error', param: null, code: 'unsupported_encoding' },
      };
    default:
      return e.status >= 400 && e.status < 500
        ? { status: e.status, body: { message: 'The request body could not be read.', type: 'invalid_request_error', param: null, code: null } }
        : undefined;
  }
}
