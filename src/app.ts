import 'reflect-metadata';
import { Logger, type NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppModule } from './app.module.js';
import { ApiKeys } from './auth/api-keys.js';
import { bodyParserError, writeOpenAIError } from './common/openai-error.js';
import { apiKeysFromEnv, type GatewayOptions } from './gateway-options.js';

const DEFAULT_BODY_LIMIT = '20mb';

/**
 * Builds the gateway (not listening yet): the real AppModule with `options`, the JSON body parser,
 * the OpenAPI docs at /docs. `npm start` (main.ts) and the e2e tests boot it the same way.
 */
export async function createApp(options: GatewayOptions = {}, appOptions: NestApplicationOptions = {}): Promise<NestExpressApplication> {
  // The body parser is set up below, with a limit fit for embedding batches and OpenAI-shaped errors.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), { abortOnError: false, ...appOptions, bodyParser: false });
  configureApp(app, options);
  return app;
}

export function configureApp(app: NestExpressApplication, options: GatewayOptions = {}): void {
  // The client's key is checked before the body is read: without a good key, no body is parsed (nor
  // read off the socket), whatever its size or shape, and the guard answers 401.
  app.use(app.get(ApiKeys).middleware());
  app.useBodyParser('json', { limit: options.bodyLimit ?? DEFAULT_BODY_LIMIT, type: (req: IncomingMessage) => isJson(req) && !ApiKeys.keyRefused(req) });
  // Body-parser failures happen before Nest's routing, out of its filters' reach: answered here.
  app.use((err: unknown, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
    const mapped = bodyParserError(err);
    if (!mapped) return next(err);
    writeOpenAIError(res, mapped.status, mapped.body);
  });

  if (options.docs !== false) {
    const config = new DocumentBuilder()
      .setTitle('hush gateway')
      .setDescription(
        'An OpenAI-compatible gateway over the LLMs, embedders and rerankers named in the providers config. ' +
          '`model` is a configured name (GET /v1/models). Errors use OpenAI\'s shape `{ error: { message, type, param, code } }`.',
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'One of GATEWAY_API_KEYS (only when it is set)' })
      .build();
    // Built on the first visit to /docs, not at every boot.
    SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config));
  }
}

/** The body parser's own default (`application/json`, any parameters). */
function isJson(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/**
 * `npm start`: listens on HOST:PORT (127.0.0.1:3000 by default), with the providers config from
 * PROVIDERS_CONFIG (else config/providers.yaml) and client keys from GATEWAY_API_KEYS; shuts down
 * cleanly on SIGTERM/SIGINT. `env` defaults to process.env (tests pass their own).
 */
export async function bootstrap(
  options: { env?: Readonly<Record<string, string | undefined>>; app?: NestApplicationOptions } = {},
): Promise<NestExpressApplication> {
  const env = options.env ?? process.env;
  const port = parsePort(env.PORT);
  const host = env.HOST || '127.0.0.1';
  const app = await createApp(
    { providers: { env }, apiKeys: apiKeysFromEnv(env), bodyLimit: env.GATEWAY_BODY_LIMIT || undefined },
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
