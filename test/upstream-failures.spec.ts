import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsNotEmpty, IsString } from 'class-validator';
import {
  BUILTIN_PROVIDERS,
  defineLLMProvider,
  LLMInstanceConfig,
  ProviderError,
  ProvidersModule,
  ProvidersRegistry,
  Secret,
  type ProviderKind,
} from '@hush/providers';

/**
 * Every built-in type that talks to a service, through its example entry in
 * config/examples/all-types.yaml, against one upstream that fails the way services fail: the same
 * ProviderError fields whatever the type, and never the key, even when the upstream echoes every
 * header and the body back in its errors (as some gateways do).
 */
const KEY = 'sk-test-SECRETKEYleakcheck0123456789';
const root = join(import.meta.dirname, '..');
const examples = parse(readFileSync(join(root, 'config/examples/all-types.yaml'), 'utf8')) as Record<ProviderKind, Record<string, Record<string, unknown>>>;

let server: Server;
let url = '';
let status = 401;
let malformed = false;
/** An error body to answer with instead of the echoing one. */
let errorBody: unknown;
const methods: string[] = [];
const logs: string[] = [];
const logger: LoggerService = {
  log: (m: unknown) => void logs.push(String(m)),
  error: (m: unknown, ...rest: unknown[]) => void logs.push([m, ...rest].map(String).join(' ')),
  warn: (m: unknown) => void logs.push(String(m)),
  debug: (m: unknown) => void logs.push(String(m)),
  verbose: (m: unknown) => void logs.push(String(m)),
};

beforeAll(async () => {
  server = createServer((req, res) => {
    methods.push(req.method ?? '');
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (malformed) {
        // A 200 whose JSON breaks off, as a proxy that cut the connection would leave it.
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"id":"x","object":"list","data":[{"embedding":[0.1,');
      }
      if (errorBody !== undefined) {
        res.writeHead(status, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(errorBody));
      }
      const echo = `headers ${JSON.stringify(req.headers)} url ${req.url} body ${body.slice(0, 2000)}`;
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '3' } : {}) });
      res.end(JSON.stringify({ error: { message: `Invalid credentials. ${echo}`, type: 'invalid_request_error' }, message: echo, detail: echo }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

/** The example entry of a type, with the key and this upstream in it. */
function entryFor(kind: ProviderKind, type: string): Record<string, unknown> {
  const example = Object.values(examples[kind]).find((e) => e.type === type)!;
  const entry: Record<string, unknown> = { ...example, apiKey: KEY, maxRetries: 0, headers: { 'x-extra-auth': `token ${KEY}` } };
  if ('endpoint' in entry) entry.endpoint = url;
  else entry.baseUrl = type === 'gemini' ? url : `${url}/v1`;
  return entry;
}

function printable(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    parts.push(String(current), JSON.stringify(current), inspect(current, { depth: 6 }), (current as Error).stack ?? '');
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

// Every type that talks to a service; llama-cpp runs in process and has no key.
const SERVICE_TYPES = BUILTIN_PROVIDERS.filter((d) => d.type !== 'llama-cpp');

async function failingCall(kind: ProviderKind, type: string) {
  const module = await Test.createTestingModule({
    imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: { [kind]: { probe: entryFor(kind, type) } } })],
  }).compile();
  module.useLogger(logger);
  const registry = module.get(ProvidersRegistry);
  const call =
    kind === 'llm'
      ? registry.llm('probe').generate([{ role: 'user', content: 'hello' }])
      : kind === 'embedding'
        ? registry.embedder('probe').embed(['hello'])
        : registry.reranker('probe').rerank('q', ['a', 'b']);
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  await module.close();
  return error;
}

describe('upstream failures look the same whatever the type', () => {
  const expected: Record<string, Record<string, unknown>> = {
    401: { status: 401, retryable: false, code: 'http' },
    404: { status: 404, retryable: false, code: 'http' },
    429: { status: 429, retryable: true, code: 'http', retryAfterMs: 3000 },
    500: { status: 500, retryable: true, code: 'http' },
    malformed: { retryable: false, code: 'bad-response' },
  };
  for (const def of SERVICE_TYPES) {
    for (const [fault, fields] of Object.entries(expected)) {
      it(`${def.kind} ${def.type}: ${fault}`, async () => {
        malformed = fault === 'malformed';
        status = malformed ? 200 : Number(fault);
        const error = await failingCall(def.kind, def.type);
        expect(error).toMatchObject({ name: 'ProviderError', instance: 'probe', type: def.type, kind: def.kind, ...fields });
        expect((error as Error).message).toMatch(new RegExp(`^${def.kind} "probe" \\(${def.type}\\): `));
      });
    }
  }
});

describe('ping: a free check, where the service has one', () => {
  // The types with a free route (model list, /health); the others cannot be checked without a billed call.
  const PINGABLE = new Set([
    'llm/openai',
    'llm/openai-compatible',
    'llm/azure-openai',
    'llm/gemini',
    'llm/anthropic',
    'embedding/openai',
    'embedding/openai-compatible',
    'embedding/azure-openai',
    'embedding/tei',
    'embedding/ollama',
    'embedding/cohere',
    'embedding/gemini',
    'reranker/cohere',
    'reranker/vllm',
    'reranker/tei',
  ]);

  for (const def of SERVICE_TYPES) {
    const key = `${def.kind}/${def.type}`;
    it(`${key}: ${PINGABLE.has(key) ? 'GET only; up on 200, a ProviderError on 401' : 'no free check: undefined, nothing sent'}`, async () => {
      malformed = false;
      methods.length = 0;
      const module = await Test.createTestingModule({
        imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: { [def.kind]: { probe: entryFor(def.kind, def.type) } } })],
      }).compile();
      const instance = module.get(ProvidersRegistry).get(def.kind, 'probe');
      status = 200;
      const up = await instance.ping!({ timeoutMs: 2_000 });
      status = 401;
      const down = await instance.ping!({ timeoutMs: 2_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      await module.close();
      if (PINGABLE.has(key)) {
        expect(up).toEqual({ deployments: 1, reachable: 1 });
        expect(down).toMatchObject({ name: 'ProviderError', status: 401, instance: 'probe' });
        expect(methods).toEqual(['GET', 'GET']);
      } else {
        expect(up).toBeUndefined();
        expect(down).toBeUndefined();
        expect(methods).toEqual([]);
      }
    });
  }
});

describe('no key in errors or logs, whatever the upstream echoes', () => {
  for (const def of SERVICE_TYPES) {
    for (const code of [401, 500]) {
      it(`${def.kind} ${def.type}, upstream ${code}`, async () => {
        malformed = false;
        status = code;
        logs.length = 0;
        const module = await Test.createTestingModule({
          imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: { [def.kind]: { probe: entryFor(def.kind, def.type) } } })],
        }).compile();
        module.useLogger(logger);
        const registry = module.get(ProvidersRegistry);
        const call =
          def.kind === 'llm'
            ? registry.llm('probe').generate([{ role: 'user', content: `my key is not ${KEY.slice(0, 6)}` }])
            : def.kind === 'embedding'
              ? registry.embedder('probe').embed(['hello'])
              : registry.reranker('probe').rerank('q', ['a', 'b']);
        const error = await call.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, 'the call must fail against this upstream').toBeDefined();
        expect(error).toMatchObject({ name: 'ProviderError', status: code, instance: 'probe', type: def.type });
        const shown = printable(error) + '\n' + logs.join('\n') + '\n' + inspect(registry.get(def.kind, 'probe'), { depth: 8 });
        expect(shown).not.toContain(KEY);
        expect(shown).not.toContain(KEY.slice(8));
        await module.close();
      });
    }
  }
});

describe("the upstream's own code, param and type", () => {
  const CONTEXT = {
    message: "This model's maximum context length is 8192 tokens.",
    type: 'invalid_request_error',
    param: 'messages',
    code: 'context_length_exceeded',
  };
  for (const def of SERVICE_TYPES) {
    it(`${def.kind} ${def.type}: carried on the ProviderError as sent`, async () => {
      malformed = false;
      status = 400;
      errorBody = { error: CONTEXT };
      try {
        const error = await failingCall(def.kind, def.type);
        expect(error).toMatchObject({ name: 'ProviderError', status: 400, code: 'http', retryable: false });
        expect((error as ProviderError).upstream).toEqual({ code: 'context_length_exceeded', param: 'messages', type: 'invalid_request_error' });
      } finally {
        errorBody = undefined;
      }
    });
  }

  it("reads Anthropic's envelope and Google's status word", async () => {
    malformed = false;
    status = 400;
    try {
      errorBody = { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } };
      expect(((await failingCall('llm', 'anthropic')) as ProviderError).upstream).toEqual({ type: 'invalid_request_error' });
      errorBody = [{ error: { code: 400, message: 'The input token count exceeds the maximum', status: 'INVALID_ARGUMENT' } }];
      expect(((await failingCall('embedding', 'gemini')) as ProviderError).upstream).toEqual({ code: 'INVALID_ARGUMENT' });
      // A body without any of them: no `upstream` at all.
      errorBody = { message: 'bad request' };
      expect(((await failingCall('reranker', 'cohere')) as ProviderError).upstream).toBeUndefined();
    } finally {
      errorBody = undefined;
    }
  });
});

class KeyedConfig extends LLMInstanceConfig {
  @IsString() @IsNotEmpty() model!: string;
  @IsString() @IsNotEmpty() @Secret() apiKey!: string;
}

describe("a driver's own failure is redacted with the instance's secrets", () => {
  // Key shapes no generic pattern knows: Google's AIza… keys and Azure's 32 hex digits.
  for (const key of ['AIzaSyD3xampleKeyThatNoPatternKnows_12', '0123456789abcdef0123456789abcdef']) {
    it(`a plain Error naming the key ${key.slice(0, 4)}…`, async () => {
      const leaky = defineLLMProvider({
        type: 'leaky',
        config: KeyedConfig,
        create: (config) => ({
          model: config.model,
          generate: async () => {
            throw new Error(`the service refused key ${config.apiKey} (and ${config.apiKey.slice(0, 10)})`);
          },
          stream: async function* () {
            throw new Error(`stream refused key ${config.apiKey}`);
          },
        }),
      });
      const module = await Test.createTestingModule({
        imports: [
          ProvidersModule.forRoot({ configPath: [], env: {}, providers: [leaky], config: { llm: { probe: { type: 'leaky', model: 'm', apiKey: key } } } }),
        ],
      }).compile();
      const llm = module.get(ProvidersRegistry).llm('probe');
      const generated = await llm.generate([{ role: 'user', content: 'hi' }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      const streamed = await (async () => {
        for await (const _ of llm.stream([{ role: 'user', content: 'hi' }]));
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      await module.close();
      expect((generated as Error).message).toBe(`llm "probe" (leaky): the service refused key *** (and ${key.slice(0, 10)})`);
      for (const error of [generated, streamed]) {
        expect(error).toBeInstanceOf(ProviderError);
        expect(printable(error)).not.toContain(key);
      }
    });
  }
});
