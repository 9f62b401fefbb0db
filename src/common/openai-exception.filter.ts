import { Catch, HttpException, Injectable, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayErrors } from './gateway-errors.js';
import { writeOpenAIError } from './openai-error.js';

/** A terminus health report (thrown as a 503 by HealthCheckService): answered as terminus shapes it. */
function isHealthReport(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'status' in value && 'details' in value;
}

/**
 * Every error of every route in OpenAI's shape `{ error: { message, type, param, code } }`, except
 * terminus' readiness report (kept as terminus writes it). Once an SSE stream has started, the
 * error goes out as a last `data: {"error": ...}` event (OpenAI's convention) and the stream ends.
 */
@Catch()
@Injectable()
export class OpenAIExceptionFilter implements ExceptionFilter {
  constructor(private readonly errors: GatewayErrors) {}

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

    const error = this.errors.answer(exception, req);
    if (!error) {
      if (!res.writableEnded) res.destroy();
      return;
    }
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
