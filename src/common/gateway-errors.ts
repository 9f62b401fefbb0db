import { HttpException, Injectable, Logger, Optional } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { NoDefaultInstanceError, ProviderError, ProvidersRegistry, UnknownInstanceError } from '@hush/providers';
import { bodyParserError, OpenAIError } from './openai-error.js';
import { providerErrorToOpenAI } from './provider-error-mapping.js';

function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

function httpExceptionMessage(err: HttpException): string {
  const response = err.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : err.message;
}

/**
 * Any error as OpenAI's error body and an HTTP status; `undefined` for a cancelled call (the
 * client is gone, nobody to answer). Never a stack trace, never an upstream's address (see
 * provider-error-mapping.ts), never an internal message of our own.
 */
export function toOpenAIError(err: unknown, req?: Pick<IncomingMessage, 'method' | 'url'>): OpenAIError | undefined {
  if (err instanceof OpenAIError) return err;
  if (err instanceof ProviderError) return providerErrorToOpenAI(err);
  if (err instanceof UnknownInstanceError) {
    return new OpenAIError(404, { message: err.message, type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
  }
  if (err instanceof NoDefaultInstanceError) {
    return new OpenAIError(400, { message: err.message, type: 'invalid_request_error', param: 'model', code: 'missing_required_parameter' });
  }
  if (isAbort(err)) return undefined;
  const parse = bodyParserError(err);
  if (parse) return new OpenAIError(parse.status, parse.body);
  if (err instanceof HttpException) {
    const status = err.getStatus();
    if (status === 404 && req && /^Cannot [A-Z]+ /.test(httpExceptionMessage(err))) {
      // Nest's answer for a route that does not exist; OpenAI words it this way.
      return new OpenAIError(404, { message: `Invalid URL (${req.method} ${req.url?.split('?')[0]})`, type: 'invalid_request_error', code: 'unknown_url' });
    }
    return new OpenAIError(status, { message: status >= 500 ? 'The server had an error while processing your request.' : httpExceptionMessage(err) });
  }
  return new OpenAIError(500, { message: 'The server had an error while processing your request.', type: 'server_error', code: 'internal_error' });
}

/**
 * Turns any error into the client's answer and logs what the client is not told. A ProviderError's
 * answer names the instance and the kind of failure; its full message (which names the upstream's URL)
 * goes to the log. Both go through `ProvidersRegistry.redact`, so that no configured secret shows, even
 * from an error the library did not make (a custom provider's, a probe's).
 */
@Injectable()
export class GatewayErrors {
  private readonly logger = new Logger('Gateway');

  constructor(@Optional() private readonly registry?: ProvidersRegistry) {}

  /** The answer for `exception` (undefined for a cancelled call: nobody to answer), logged. */
  answer(exception: unknown, req?: Pick<IncomingMessage, 'method' | 'url'>): OpenAIError | undefined {
    const mapped = toOpenAIError(exception, req);
    if (!mapped) return undefined;
    // Only a provider's message can carry a secret; the gateway's own messages are fixed text.
    const message = exception instanceof ProviderError ? this.redact(mapped.body.message) : mapped.body.message;
    const error = message === mapped.body.message ? mapped : new OpenAIError(mapped.getStatus(), { ...mapped.body, message }, mapped.headers);
    this.log(exception, error, req);
    return error;
  }

  private log(exception: unknown, error: OpenAIError, req?: Pick<IncomingMessage, 'method' | 'url'>): void {
    const status = error.getStatus();
    const where = req ? `${req.method} ${req.url?.split('?')[0]} → ` : '';
    const head = `${where}${status} ${error.body.code ?? error.body.type}`;
    if (exception instanceof ProviderError) {
      const line = this.redact(`${head}: ${exception.message}`);
      // An upstream 404 is most often the gateway's own config (a model name the upstream does not have).
      if (status >= 500 || status === 404) this.logger.warn(line);
      else this.logger.debug(line);
      return;
    }
    if (status < 500) return;
    if (exception instanceof OpenAIError) {
      this.logger.warn(this.redact(`${head}: ${error.body.message}`));
      return;
    }
    // Our own bug: with its stack.
    const message = exception instanceof Error ? exception.message : String(exception);
    const stack = exception instanceof Error && exception.stack ? this.redact(exception.stack) : undefined;
    this.logger.error(this.redact(`${head}: ${message}`), stack);
  }

  private redact(text: string): string {
    return this.registry ? this.registry.redact(text) : text;
  }
}
