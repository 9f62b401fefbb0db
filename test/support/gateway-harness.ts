import type { LoggerService, NestApplicationOptions } from '@nestjs/common';
import type { ProvidersConfig } from '@hush/providers';
import { createApp, type GatewayApp } from '../../src/app.js';
import type { GatewayOptions } from '../../src/gateway-options.js';
import { OpenAIFakeServer } from '../fakes/openai-fake-server.js';
import { gatewayTestReranker, type GatewayTestRerankerState } from './gateway-reranker.js';
import { freePort } from './local-process.js';

/** The key the fake upstream wants; it must never show in anything the gateway answers. */
export const UPSTREAM_KEY = 'sk-upstream-secret-0123456789abcdef';

export interface GatewayHarness {
  app: GatewayApp;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `http://127.0.0.1:<port>/v1`, as OpenAI clients take it. */
  baseURL: string;
  upstream: OpenAIFakeServer;
  reranker: GatewayTestRerankerState;
  /** A port nothing listens on (for "connection refused"). */
  deadPort: number;
  close(): Promise<void>;
}

/**
 * Boots the real gateway (createApp → AppModule.forRoot) on 127.0.0.1, port 0, over a fake OpenAI
 * upstream and the test reranker type. Every name in the config points at the fake, except `down`
 * (a closed port). `extra` is merged into the inline config; `app` into Nest's application options
 * (e.g. `logger`, to read what the gateway logs).
 */
export async function startGateway(
  options: {
    apiKeys?: string[];
    extra?: ProvidersConfig | ((upstreamBaseUrl: string) => ProvidersConfig);
    gateway?: Partial<GatewayOptions>;
    app?: NestApplicationOptions;
  } = {},
): Promise<GatewayHarness> {
  const upstream = await OpenAIFakeServer.start({ apiKey: UPSTREAM_KEY, defaultDimensions: 8 });
  const extra = typeof options.extra === 'function' ? options.extra(upstream.baseUrl) : options.extra;
  const deadPort = await freePort();
  const reranker = gatewayTestReranker();
  const compatible = (model: string, extra: Record<string, unknown> = {}) => ({
    type: 'openai-compatible',
    baseUrl: upstream.baseUrl,
    apiKey: UPSTREAM_KEY,
    model,
    maxRetries: 0,
    ...extra,
  });
  const config: ProvidersConfig = {
    llm: {
      chat: compatible('gpt-4o-mini'),
      strict: compatible('gpt-4o-mini', { timeoutMs: 400 }),
      stalls: compatible('gpt-4o-mini', { idleTimeoutMs: 300 }),
      down: { ...compatible('gpt-4o-mini'), baseUrl: `http://127.0.0.1:${deadPort}/v1` },
      ...extra?.llm,
    },
    embedding: {
      docs: compatible('text-embedding-3-small'),
      ...extra?.embedding,
    },
    reranker: {
      rerank: { type: 'gateway-test-reranker', model: 'overlap-v1' },
      ...extra?.reranker,
    },
    defaults: { llm: 'chat', ...extra?.defaults },
  };
  let app: GatewayApp | undefined;
  try {
    app = await createApp(
      {
        providers: { config, env: {}, configPath: [], providers: [reranker.definition] },
        apiKeys: options.apiKeys ?? [],
        ...options.gateway,
      },
      // Clients may leave idle keep-alive sockets open (undici drops them after 4 s): close them with the app.
      { logger: false, forceCloseConnections: true, ...options.app },
    );
    await app.listen(0, '127.0.0.1');
  } catch (err) {
    await app?.close();
    await upstream.close();
    throw err;
  }
  const { port } = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const started = app;
  return {
    app: started,
    url,
    baseURL: `${url}/v1`,
    upstream,
    reranker: reranker.state,
    deadPort,
    async close() {
      await started.close();
      await upstream.close();
    },
  };
}

/** A Nest logger that keeps every line (`<context>: <message>`) for the test to read, and prints nothing. */
export function capturingLogger(lines: string[]): LoggerService {
  // Nest passes the context last; an error's stack, when given, comes before it.
  const push = (message: unknown, ...rest: unknown[]) =>
    void lines.push(`${String(rest.at(-1) ?? '')}: ${[message, ...rest.slice(0, -1)].map(String).join('\n')}`);
  return { log: push, error: push, warn: push, debug: push, verbose: push, fatal: push };
}

/** POSTs JSON (or a raw string) and returns status, headers and the parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
