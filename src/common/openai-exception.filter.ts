import { Catch, HttpException, Injectable, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { GatewayErrors } from './gateway-errors.js';
import { nodeRequest, nodeResponse, type HttpRequest, type HttpResponse } from './http.js';
import { writeOpenAIError } from './openai-error.js';

/** A terminus health report (thrown as a 503 by HealthCheckService): answered as terminus shapes it. */
function isHealthReport(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'status' in value && 'details' in value;
}

/** Headers of Fastify's reply that are not carried over (see `carryHeaders`). */
const NOT_CARRIED = new Set([
  'content-length',
  'content-type',
  // Fastify asks to close the connection after a body parser's error, in case the body was left
  // unread; the gateway's reader reads a refused body off first, as body-parser did (json-body.ts).
  'connection',
]);

/**
 * The headers the route set on Fastify's reply before it failed (`@Header()`, terminus' Cache-Control),
 * put on the Node response the answer is written on, as they would be on the reply's own answer.
 */
function carryHeaders(response: HttpResponse): void {
  const reply = response as { raw?: ServerResponse; getHeaders?: () => Record<string, unknown> };
  if (!reply.raw || typeof reply.getHeaders !== 'function' || reply.raw.headersSent) return;
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined && !NOT_CARRIED.has(name)) reply.raw.setHeader(name, value as string | string[]);
  }
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
    const response = http.getResponse<HttpResponse>();
    const res = nodeResponse(response);
    const req = nodeRequest(http.getRequest<HttpRequest>());
    carryHeaders(response);

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
