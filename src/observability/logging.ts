import { ConsoleLogger, type LoggerService, type LogLevel, type NestApplicationOptions } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type Logger as PinoLogger } from 'pino';
import type { RequestContext } from './request-context.js';

export type LogFormat = 'text' | 'json';

export interface GatewayLogOptions {
  /**
   * `text`: Nest's logger (or the `logger` given in Nest's application options), each line logged
   * while serving a request starting with `[<request id>]`. `json`: pino, one JSON object per line,
   * each logged while serving a request with its `requestId`, plus one line per request (method,
   * route, status, duration, model, instance, client, tokens and cost). Default `GATEWAY_LOG_FORMAT`, else `text`.
   */
  format?: LogFormat;
  /** JSON only: where lines go (default stdout); tests pass a stream to read them. */
  destination?: DestinationStream;
  /** JSON only: the least level written (default `info`; `debug` shows Nest's debug lines too). */
  level?: Level;
}

export function resolveLogFormat(format: LogFormat | undefined, env: Readonly<Record<string, string | undefined>> = process.env): LogFormat {
  const value = format ?? (env.GATEWAY_LOG_FORMAT?.trim().toLowerCase() || 'text');
  if (value !== 'text' && value !== 'json') throw new Error(`GATEWAY_LOG_FORMAT must be text or json; got "${value}".`);
  return value;
}

/**
 * Nest's logger with the request id: each line logged while a request is served (in its async
 * context) starts with `[<id>] `; other lines are left as they are.
 */
export class RequestIdLogger implements LoggerService {
  constructor(
    private readonly inner: LoggerService,
    private readonly requests: RequestContext,
  ) {}

  log(message: unknown, ...params: unknown[]): void {
    this.inner.log(this.tag(message), ...params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.inner.error(this.tag(message), ...params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.inner.warn(this.tag(message), ...params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.inner.debug?.(this.tag(message), ...params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.inner.verbose?.(this.tag(message), ...params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.inner.fatal?.(this.tag(message), ...params);
  }
  setLogLevels(levels: LogLevel[]): void {
    this.inner.setLogLevels?.(levels);
  }

  private tag(message: unknown): unknown {
    const id = this.requests.current()?.id;
    return id !== undefined && typeof message === 'string' ? `[${id}] ${message}` : message;
  }
}

const looksLikeStack = (value: unknown): value is string => typeof value === 'string' && /\n\s+at /.test(value);

/**
 * Nest's LoggerService over pino: one JSON line per call, `context` as a field, an error's stack as
 * `stack`; pino's mixin adds the `requestId` of the request being served.
 */
export class JsonLogger implements LoggerService {
  constructor(readonly pino: PinoLogger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** As Nest's ConsoleLogger reads its arguments: the context last, an error's stack before it. */
  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const args = [message, ...params];
    const fields: Record<string, unknown> = {};
    if (args.length > 1 && typeof args.at(-1) === 'string') fields.context = args.pop();
    if (level === 'error' && args.length === 2 && (args[1] === undefined || typeof args[1] === 'string')) {
      const stack = args.pop();
      if (stack !== undefined) fields.stack = stack;
    }
    const words: string[] = [];
    for (const arg of args) {
      if (arg instanceof Error) {
        words.push(arg.message);
        fields.stack ??= arg.stack;
      } else if (typeof arg === 'object' && arg !== null) {
        Object.assign(fields, arg);
      } else if (looksLikeStack(arg) && level === 'error') {
        fields.stack ??= arg;
      } else if (arg !== undefined) {
        words.push(String(arg));
      }
    }
    this.pino[level](fields, words.join(' '));
  }
}

/** The loggers of one gateway: what Nest is given, and the access log (JSON only). */
export interface GatewayLoggers {
  /** For Nest's `logger` option (false: none). */
  nest: LoggerService | false;
  /** The pino logger the per-request lines go to (JSON only). */
  access?: PinoLogger;
}

/**
 * The loggers for `format`. Text: Nest's `logger` option as given (a LoggerService, log levels, or
 * Nest's ConsoleLogger by default) wrapped in `RequestIdLogger`; `false` stays false. JSON: pino to
 * `destination`, in place of whatever Nest's option says.
 */
export function createLoggers(
  options: GatewayLogOptions,
  format: LogFormat,
  nestLogger: NestApplicationOptions['logger'],
  requests: RequestContext,
): GatewayLoggers {
  if (format === 'json') {
    const logger = pino(
      {
        level: options.level ?? 'info',
        timestamp: pino.stdTimeFunctions.isoTime,
        mixin: () => {
          const id = requests.current()?.id;
          return id === undefined ? {} : { requestId: id };
        },
      },
      // stdout as Nest's own logger writes it (synchronously, for files and pipes).
      options.destination ?? process.stdout,
    );
    return { nest: new JsonLogger(logger), access: logger };
  }
  if (nestLogger === false) return { nest: false };
  const inner =
    typeof nestLogger === 'object' && !Array.isArray(nestLogger) ? nestLogger : new ConsoleLogger(Array.isArray(nestLogger) ? { logLevels: nestLogger } : {});
  return { nest: new RequestIdLogger(inner, requests) };
}
