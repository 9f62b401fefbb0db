import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NoDefaultInstanceError, ProviderError, UnknownInstanceError } from '@hush/providers';
import { bodyParserError, OpenAIError, writeOpenAIError } from './openai-error.js';
import { providerErrorToOpenAI } from './provider-error-mapping.js';

const logger = new Logger('Gateway');

function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/** A terminus health report (thrown as a 503 by HealthCheckService): answered as terminus shapes it. */
function isHealthReport(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'status' in value && 'details' in value;
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
 * client is gone, nobody to answer). Never a stack trace, never an internal message that did not
 * come through the library's redaction.
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
 * Every error of every route in OpenAI's shape `{ error: { message, type, param, code } }`, except
 * terminus' readiness report (kept as terminus writes it). Once an SSE stream has started, the
 * error goes out as a last `data: {"error": ...}` event (OpenAI's convention) and the stream ends.
 */
@Catch()
export class OpenAIExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const res = http.getResponse<ServerResponse>();
    const req = http.getRequest<IncomingMessage>();

    if (exception instanceof HttpException && isHealthReport(exception.getResponse())) {
      if (!res.headersSent) {
        res.statusCode = exception.getStatus();
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(exception.getResponse()));
      }
      return;
    }

    const error = toOpenAIError(exception, req);
    if (!error) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    logError(exception, error, req);
    if (res.destroyed) return;
    if (res.headersSent) {
      if (!res.writableEnded && String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) {
        res.end(`data: ${JSON.stringify({ error: error.body })}\n\n`);
      } else {
        res.destroy();
      }
      return;
    }
    writeOpenAIError(res, error.getStatus(), error.body, {
      ...error.headers,
      ...(error.getStatus() === 401 ? { 'www-authenticate': 'Bearer' } : {}),
    });
  }
}

/** Upstream failures as warnings (their messages are redacted by the library); our own bugs with their stack. */
export function logError(exception: unknown, error: OpenAIError, req?: Pick<IncomingMessage, 'method' | 'url'>): void {
  const status = error.getStatus();
  if (status < 500) return;
  const where = req ? `${req.method} ${req.url?.split('?')[0]}` : '';
  if (exception instanceof ProviderError || exception instanceof OpenAIError) {
    logger.warn(`${where} → ${status}: ${error.body.message}`);
  } else {
    logger.error(`${where} → ${status}: ${exception instanceof Error ? exception.message : String(exception)}`, exception instanceof Error ? exception.stack : undefined);
  }
}
