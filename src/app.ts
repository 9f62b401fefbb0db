import 'reflect-metadata';
import { HttpException, Logger, type NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { AppModule } from './app.module.js';
import { ApiKeys } from './auth/api-keys.js';
import { toOpenAIError } from './common/gateway-errors.js';
import { isJsonContentType } from './common/http.js';
import { jsonBodyParser } from './common/json-body.js';
import { writeOpenAIError } from './common/openai-error.js';
import { apiKeysFromEnv, parseBodyLimit, parseBooleanEnv, resolveGatewayOptions, type GatewayOptions } from './gateway-options.js';
import { resolveLogFormat } from './observability/logging.js';
import { GatewayObservability } from './observability/observability.js';

const DEFAULT_BODY_LIMIT = '20mb';

/** The gateway's application: Nest over Fastify. */
export type GatewayApp = NestFastifyApplication;

/**
 * Builds the gateway (not listening yet): the real AppModule with `options` on Nest's Fastify
 * adapter, the JSON body reader, the OpenAPI docs at /docs. `npm start` (main.ts) and the e2e tests
 * boot it the same way. First, before Nest builds anything, the OpenTelemetry SDK is started and
 * the loggers made (see `GatewayObservability`); both stop when the app closes, or here if it fails.
 * In JSON log mode (`options.log`), pino takes the place of `appOptions.logger`.
 */
export async function createApp(options: GatewayOptions = {}, appOptions: NestApplicationOptions = {}): Promise<GatewayApp> {
  const bodyLimit = parseBodyLimit(options.bodyLimit ?? DEFAULT_BODY_LIMIT);
  // Option mistakes stop the bootstrap before the SDK starts.
  resolveGatewayOptions(options);
  const observability = await GatewayObservability.start(options, appOptions.logger);
  try {
    return await buildApp(options, appOptions, bodyLimit, observability);
  } catch (err) {
    await observability.shutdown();
    throw err;
  }
}

async function buildApp(
  options: GatewayOptions,
  appOptions: NestApplicationOptions,
  bodyLimit: number,
  observability: GatewayObservability,
): Promise<GatewayApp> {
  const adapter = new FastifyAdapter({
    bodyLimit,
    // No Nest middleware: the key check is a Fastify hook (below), so middie is left out of every request.
    skipMiddie: true,
    // Paths as Express matched them: any case, with or without a trailing slash, a model name of any length.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 10_000 },
    // What the router refuses before any route or hook runs (a malformed URL): in OpenAI's shape too.
    frameworkErrors: (err: { message: string; statusCode?: number }, _request: unknown, reply: { raw: ServerResponse }) => {
      const error = toOpenAIError(new HttpException(err.message, err.statusCode ?? 400))!;
      writeOpenAIError(reply.raw, error.getStatus(), error.body);
    },
  });
  // The body parser is set up below, with a limit fit for embedding batches and OpenAI-shaped errors.
  const app = await NestFactory.create<GatewayApp>(AppModule.forRoot(options, observability), adapter, {
    abortOnError: false,
    ...appOptions,
    logger: observability.loggers?.nest ?? appOptions.logger,
    bodyParser: false,
  });
  configureApp(app, options);
  return app;
}

export function configureApp(app: GatewayApp, options: GatewayOptions = {}): void {
  const fastify = app.getHttpAdapter().getInstance();
  const keys = app.get(ApiKeys);
  const observer = app.get(GatewayObservability).observer;
  // Every request, from its first byte: its id on the answer, its span and context around all that
  // Fastify and Nest do for it, its metrics and access log line once answered (request-observer.ts).
  observer.attach(app.getHttpServer(), (req) => keys.client(req));
  // As a request arrives, before its body is read: the client's key is checked (without a good key,
  // no body is parsed, nor read off the socket, whatever its size or shape, and the guard answers
  // 401); and a body that is not JSON is a request without a body for the gateway (Fastify would
  // refuse an unknown or malformed type with a 415 of its own, before the guard). The observer
  // learns the route's template and the client's name.
  fastify.addHook('onRequest', (request, reply, done) => {
    const req = request.raw;
    keys.checkArrival(req, reply.raw);
    observer.arrived(req, request.routeOptions.url, keys.client(req));
    const type = req.headers['content-type'];
    if (type !== undefined && !isJsonContentType(type)) delete req.headers['content-type'];
    done();
  });
  // One reader for every body (see json-body.ts); its failures go through the exception filter.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', jsonBodyParser({ limit: parseBodyLimit(options.bodyLimit ?? DEFAULT_BODY_LIMIT), skip: ApiKeys.keyRefused }));

  if (options.docs !== false) {
    const config = new DocumentBuilder()
      .setTitle('hush gateway')
      .setDescription(
        'An OpenAI-compatible gateway over the LLMs, embedders and rerankers named in the providers config. ' +
          "`model` is a configured name (GET /v1/models). Errors use OpenAI's shape `{ error: { message, type, param, code } }`.",
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'One of GATEWAY_API_KEYS (only when it is set)' })
      .build();
    // Built on the first visit to /docs, not at every boot.
    SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config));
  }
}

/**
 * `npm start`: listens on HOST:PORT (127.0.0.1:3000 by default), with the providers config from
 * PROVIDERS_CONFIG (else config/providers.yaml), client keys from GATEWAY_API_KEYS, the metrics'
 * openness from GATEWAY_METRICS_PUBLIC and the log format from GATEWAY_LOG_FORMAT; shuts down
 * cleanly on SIGTERM/SIGINT. `env` defaults to process.env (tests pass their own); the OTEL_*
 * variables are read from process.env, by the OpenTelemetry SDK.
 */
export async function bootstrap(options: { env?: Readonly<Record<string, string | undefined>>; app?: NestApplicationOptions } = {}): Promise<GatewayApp> {
  const env = options.env ?? process.env;
  const port = parsePort(env.PORT);
  const host = env.HOST || '127.0.0.1';
  const app = await createApp(
    {
      providers: { env },
      apiKeys: apiKeysFromEnv(env),
      bodyLimit: env.GATEWAY_BODY_LIMIT || undefined,
      metricsPublic: parseBooleanEnv('GATEWAY_METRICS_PUBLIC', env.GATEWAY_METRICS_PUBLIC, false),
      log: { format: resolveLogFormat(undefined, env) },
    },
    options.app,
  );
  app.enableShutdownHooks();
  await app.listen(port, host);
  const url = await app.getUrl();
  const auth = apiKeysFromEnv(env).length > 0 ? 'client keys required' : 'no client authentication (set GATEWAY_API_KEYS to require keys)';
  new Logger('Gateway').log(`Listening on ${url} (OpenAPI docs at ${url}/docs; ${auth})`);
  return app;
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a whole number from 0 to 65535; got "${value}".`);
  return port;
}
