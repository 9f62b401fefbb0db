import { inspect } from 'node:util';
import type { Embedder } from '../core/embedder.js';
import { secretFieldsOf } from '../core/config-fields.js';
import { ProvidersConfigError } from '../core/config-error.js';
import type { AnyProviderDefinition } from '../core/provider-definition.js';
import type { ProviderInstance } from '../core/provider-instance.js';
import type { ProviderKind } from '../core/provider-kind.js';
import type { Reranker } from '../core/reranker.js';
import { configKeysOf } from '../config/validate-config.js';
import { captureOutput, describeError, printable, show, type CheckContext, type ConformanceRequest } from './conformance-kit.js';

/**
 * The checks the catalogue runs on every built-in HTTP type, written once against any type and any
 * fake of its service. Each takes a fresh context (its own fake, its own instances) and throws a
 * ConformanceError naming what the type did wrong.
 */

export type Check<K extends ProviderKind> = <R extends ConformanceRequest>(c: CheckContext<K, R>) => Promise<void>;

/** The checks of both kinds that call the service: failures, secrets, aborts, ping, config. */
export function sharedChecks<K extends 'embedding' | 'reranker'>(
  call: (instance: ProviderInstance, signal?: AbortSignal) => Promise<unknown>,
): Record<string, Check<K>> {
  const callOf = async <R extends ConformanceRequest>(c: CheckContext<K, R>, extra: Record<string, unknown>) => {
    const instance = (await c.boot(extra)) as ProviderInstance;
    return (signal?: AbortSignal) => call(instance, signal);
  };

  return {
    'an upstream 401 is a ProviderError with status 401, not retried': async (c) => {
      const run = await callOf(c, { maxRetries: 2 });
      c.fake.failNext(401, 'invalid api key');
      const error = c.providerError(await c.rejection(run(), 'a call answered 401'), { status: 401, retryable: false, code: 'http' }, 'on a 401');
      c.expect(error.message.includes('invalid api key'), `the error should carry the service's own words ("invalid api key"): ${show(error.message)}`);
      c.equal(c.fake.requests.length, 1, 'requests sent for a 401 with maxRetries 2 (a refusal is not retried)');
    },

    'an upstream 404 is a ProviderError with status 404, not retried': async (c) => {
      const run = await callOf(c, { maxRetries: 2 });
      c.fake.failNext(404, 'no such model');
      c.providerError(await c.rejection(run(), 'a call answered 404'), { status: 404, retryable: false, code: 'http' }, 'on a 404');
      c.equal(c.fake.requests.length, 1, 'requests sent for a 404 with maxRetries 2');
    },

    'an upstream 429 is retryable and carries Retry-After as retryAfterMs': async (c) => {
      const run = await callOf(c, { maxRetries: 0 });
      c.fake.failNext(429, 'rate limit exceeded, slow down', { headers: { 'retry-after': '3' } });
      const error = c.providerError(
        await c.rejection(run(), 'a call answered 429'),
        { status: 429, retryable: true, code: 'http', retryAfterMs: 3000 },
        'on a 429 with retry-after: 3',
      );
      c.expect(error.message.includes('rate limit exceeded'), `the error should carry the service's own words: ${show(error.message)}`);
    },

    'an upstream 500 is retryable, and retried when allowed': async (c) => {
      const once = await callOf(c, { maxRetries: 0 });
      c.fake.failNext(500, 'internal failure');
      c.providerError(await c.rejection(once(), 'a call answered 500'), { status: 500, retryable: true, code: 'http' }, 'on a 500');
      c.equal(c.fake.requests.length, 1, 'requests sent for a 500 with maxRetries 0');

      const twice = await callOf(c, { maxRetries: 1 });
      c.fake.failNext(503, 'overloaded', { headers: { 'retry-after': '0' } });
      try {
        await twice();
      } catch (err) {
        c.fail(`a 503 then a good answer, with maxRetries 1, should succeed; it failed with ${describeError(err)}`);
      }
      c.equal(c.fake.requests.length, 3, 'requests sent in all (1, then a 503 and its retry)');
    },

    'a malformed 200 is a bad-response ProviderError, not retried': async (c) => {
      const run = await callOf(c, { maxRetries: 2 });
      const answers: Array<[string, string, string]> = [
        ['JSON cut short', '{"data": [[0.1, 0.2', 'application/json'],
        ['an HTML page', '<html><body>proxy error</body></html>', 'text/html'],
        ['an empty object', '{}', 'application/json'],
        ['an empty list', '[]', 'application/json'],
        ['null', 'null', 'application/json'],
      ];
      for (const [what, body, type] of answers) {
        const before = c.fake.requests.length;
        c.fake.rawNext(200, body, type);
        const error = await c.rejection(run(), `a call answered 200 with ${what}`);
        c.providerError(error, { retryable: false, code: 'bad-response', status: undefined }, `on a 200 with ${what}`);
        c.equal(c.fake.requests.length - before, 1, `requests sent for a 200 with ${what} (the same answer would come back)`);
      }
    },

    'keeps the secret out of errors, logs and events, even when the upstream echoes it': async (c) => {
      const secret = c.secret;
      if (!secret) throw c.failure('no secret to look for: give the entry an apiKey (or the `secret` option), so that there is one to leak');
      let shown = '';
      const output = await captureOutput(async () => {
        const instance = (await c.boot({ maxRetries: 1 })) as ProviderInstance;
        // A gateway in front of the service that echoes the key it was given, with and without its prefix.
        const echo = `invalid api key: ${secret} (Bearer ${secret})`;
        c.fake.failNext(401, echo);
        shown += printable(await c.rejection(call(instance), 'a call answered 401'));
        // A retryable one: its retry is logged and published too.
        c.fake.failNext(500, echo, { headers: { 'retry-after': '0' } });
        c.fake.failNext(500, echo, { headers: { 'retry-after': '0' } });
        shown += printable(await c.rejection(call(instance), 'a call answered 500 twice'));
        c.fake.rawNext(200, `<html>bad gateway for ${secret}</html>`, 'text/html');
        shown += printable(await c.rejection(call(instance), 'a call answered 200 with HTML'));
        shown += inspect(instance, { depth: 8, showHidden: true });
      });
      c.noSecretIn(shown, 'an error (or the instance, inspected)');
      c.noSecretIn(output.join('\n'), 'a log line or a diagnostics event');
    },

    'an abort rejects at once with an AbortError, and the server sees the client go': async (c) => {
      const instance = (await c.boot()) as ProviderInstance;
      c.fake.hangNext();
      const controller = new AbortController();
      const pending = c.rejection(call(instance, controller.signal), 'an aborted call');
      await c.fake.waitFor((requests) => requests.length === 1, 5_000).catch(() => c.fail('the call never reached the fake'));
      const started = performance.now();
      controller.abort();
      const error = (await pending) as Error;
      const took = performance.now() - started;
      c.expect(error?.name === 'AbortError', `the aborted call should reject with an AbortError; it rejected with ${describeError(error)}`);
      const atOnce = c.options.atOnceMs ?? 1_000;
      c.expect(took < atOnce, `the aborted call rejected after ${Math.round(took)} ms, not at once (under ${atOnce} ms)`);
      await c.fake
        .waitFor((requests) => requests[0]!.aborted, 2_000)
        .catch(() => c.fail('the fake never saw the client go: the request stayed open after the abort'));
    },

    'ping is free: GET only, up on 200, a ProviderError on 401; or absent, and nothing is sent': async (c) => {
      const facts = await c.facts();
      const instance = (await c.boot({ maxRetries: 0 })) as ProviderInstance;
      c.expect(typeof instance.ping === 'function', 'the instance has no ping()');
      const up = await instance.ping!({ timeoutMs: 5_000 }).catch((err: unknown) => c.fail(`ping() against a fake that is up failed: ${describeError(err)}`));
      if (!facts.hasPing) {
        c.equal(up, undefined, 'ping() of a type that declares no free route');
        c.equal(c.fake.requests.length, 0, 'requests sent by ping() of a type that declares no free route');
        return;
      }
      c.equal(up, { deployments: 1, reachable: 1 }, 'ping() against a fake that is up');
      c.fake.failNext(401, 'invalid api key');
      const down = await c.rejection(instance.ping!({ timeoutMs: 5_000 }), 'ping() answered 401');
      c.providerError(down, { status: 401 }, 'when ping() is answered 401');
      const methods = c.fake.requests.map((r) => r.method);
      c.equal(methods, ['GET', 'GET'], 'the methods of the requests ping() sent (a free check reads, it never posts a billed call)');
      const carried = c.fake.requests.map((r) => c.fake.inputsOf(r)).filter((inputs) => inputs !== undefined);
      c.equal(carried, [], 'the texts the ping requests carried');
    },

    'refuses unknown keys, bad URLs and out-of-range values at bootstrap, and marks secrets': async (c) => {
      const { kind, config } = c.definition;
      const keys = configKeysOf(config).map((k) => k.key);
      const entries: Record<string, Record<string, unknown>> = {
        typo: c.entry({ baseURL: 'http://127.0.0.1:1' }),
        batch: c.entry({ batchSize: 0 }),
      };
      const expected = [`${kind}.typo.baseURL`, `${kind}.batch.batchSize`];
      if (keys.includes('baseUrl')) {
        // As strict as the built-in types: a URL with its scheme, http(s) only, no credentials in it.
        Object.assign(entries, {
          noScheme: c.entry({ baseUrl: 'localhost:8080' }),
          ftp: c.entry({ baseUrl: 'ftp://example.com' }),
          credentials: c.entry({ baseUrl: 'http://user:pass@127.0.0.1:8080' }),
        });
        expected.push(`${kind}.noScheme.baseUrl`, `${kind}.ftp.baseUrl`, `${kind}.credentials.baseUrl`);
      }
      const error = await c.rejection(c.registry(entries), 'booting entries with an unknown key and bad values');
      if (!(error instanceof ProvidersConfigError))
        throw c.failure(`bad config should fail with a ProvidersConfigError; it failed with ${describeError(error)}`);
      const paths = new Set(error.issues.map((i) => i.path));
      const missed = expected.filter((p) => !paths.has(p));
      c.equal(missed, [], 'the bad values the config class let through (each needs a decorator that refuses it; baseUrl: @IsUrl(SERVICE_URL_OPTIONS))');
      c.noSecretIn(printable(error), 'the config error');

      const secrets = secretFieldsOf(config);
      const unmarked = keys.filter((key) => (/(key|token|secret|password)$/i.test(key) || key === 'headers') && !secrets.has(key));
      c.equal(unmarked, [], 'the keys that hold credentials but are not marked @Secret()');
    },
  };
}

/** The embedding kind's own checks. */
export function embedderChecks(): Record<string, Check<'embedding'>> {
  return {
    'documents its facts: a description, and its limit as docs.batchLimit': async (c) => {
      const facts = await c.facts();
      describesItself(c, facts.limit);
    },

    'embeds texts in one request, a vector each; embed([]) sends nothing': async (c) => {
      const embedder = (await c.boot()) as Embedder;
      const texts = ['alpha beta', 'gamma'];
      const result = await embedder.embed(texts).catch((err: unknown) => c.fail(`embed(["alpha beta", "gamma"]) failed: ${describeError(err)}`));
      c.equal(
        c.fake.requests.map((r) => c.fake.inputsOf(r)),
        [texts],
        'the texts of the requests sent (what the fake read with inputsOf)',
      );
      c.equal(result.embeddings.length, 2, 'vectors returned for 2 texts');
      const length = result.embeddings[0]!.length;
      c.expect(length > 0 && result.embeddings.every((v) => v.length === length), 'the vectors should be non-empty and of one length');
      c.equal(result.dimensions, length, 'result.dimensions');
      c.equal(result.model, embedder.model, "result.model (the instance's model)");
      c.expect(
        !isSame(result.embeddings[0]!, result.embeddings[1]!),
        'two different texts got the same vector: the fake must give each text its own, or the order checks prove nothing',
      );
      for (const inputType of ['query', 'document'] as const) {
        await embedder.embed('a text', { inputType }).catch((err: unknown) => c.fail(`embed with inputType "${inputType}" failed: ${describeError(err)}`));
      }
      const before = c.fake.requests.length;
      c.equal((await embedder.embed([])).embeddings, [], 'the vectors of embed([])');
      c.equal(c.fake.requests.length - before, 0, 'requests sent by embed([])');
    },

    "splits at the type's limit, and keeps input order": async (c) => {
      const { limit } = await c.facts();
      const embedder = (await c.boot()) as Embedder;
      const texts = Array.from({ length: limit + 1 }, (_, i) => `text number ${i}`);
      const result = await embedder.embed(texts).catch((err: unknown) => c.fail(`embed of ${texts.length} texts failed: ${describeError(err)}`));
      checkBatches(c, texts, limit);
      c.equal(result.embeddings.length, texts.length, `vectors returned for ${texts.length} texts`);
      // The same text alone must get the same vector: a batch's vectors are in the order of its texts.
      for (const i of [0, limit - 1, limit]) {
        const alone = await embedder.embed(texts[i]!);
        c.expect(
          isSame(alone.embeddings[0]!, result.embeddings[i]!),
          `text ${i} got another vector in a batch than alone: the batch's vectors are out of order`,
        );
      }
    },

    'batchSize lowers the limit': async (c) => {
      const embedder = (await c.boot({ batchSize: 3 })) as Embedder;
      const texts = Array.from({ length: 10 }, (_, i) => `t${i}`);
      await embedder.embed(texts).catch((err: unknown) => c.fail(`embed of 10 texts with batchSize 3 failed: ${describeError(err)}`));
      checkBatches(c, texts, 3);
    },

    'dimensions: sent where supported, and a vector of another length is an error': async (c) => {
      const facts = await c.facts();
      const plain = (await c.boot()) as Embedder;
      const native = (await plain.embed('one')).dimensions;
      let configured = native;
      if (facts.supportsDimensions) {
        const values = c.options.dimensions;
        if (!values) throw c.failure('the type supports dimensions: give the `dimensions` option two values the service accepts, so they can be checked');
        const [first, second] = values;
        const shortened = (await c.boot({ dimensions: first })) as Embedder;
        const result = await shortened.embed(['one', 'two']).catch((err: unknown) => c.fail(`embed with dimensions ${first} failed: ${describeError(err)}`));
        c.equal(
          result.embeddings.map((v) => v.length),
          [first, first],
          `vector lengths with dimensions: ${first}`,
        );
        c.equal(shortened.dimensions, first, "the instance's dimensions");
        const override = await shortened.embed('three', { dimensions: second });
        c.equal(override.embeddings[0]!.length, second, `vector length with a call's dimensions: ${second}`);
        configured = first;
      }
      const checked = (await c.boot({ dimensions: configured, maxRetries: 2 })) as Embedder;
      c.fake.mutateNext(shortenVectors);
      const before = c.fake.requests.length;
      const error = await c.rejection(checked.embed(['one']), 'a call answered with vectors one number short');
      c.providerError(
        error,
        { code: 'dimensions', retryable: false },
        `when the service answers vectors of ${configured - 1} numbers where ${configured} are configured`,
      );
      c.equal(c.fake.requests.length - before, 1, 'requests sent (a wrong length is not retried)');
    },

    ...sharedChecks<'embedding'>((instance, signal) => (instance as Embedder).embed(['hello'], { signal })),
  };
}

/** The reranker kind's own checks. */
export function rerankerChecks(): Record<string, Check<'reranker'>> {
  return {
    'documents its facts: a description, and its limit as docs.batchLimit': async (c) => {
      const facts = await c.facts();
      describesItself(c, facts.limit);
    },

    'scores every document in one request, sorted by score': async (c) => {
      const reranker = (await c.boot()) as Reranker;
      const documents = ['the cat sat on the mat', 'a dog barked', 'cat cat cat food', 'nothing here at all', 'my cat'];
      const results = await reranker.rerank('cat', documents).catch((err: unknown) => c.fail(`rerank of 5 documents failed: ${describeError(err)}`));
      c.equal(
        c.fake.requests.map((r) => c.fake.inputsOf(r)),
        [documents],
        'the documents of the requests sent (what the fake read with inputsOf)',
      );
      checkRanking(c, results, documents);
    },

    "splits at the type's limit, and merges the scores as one ranking": async (c) => {
      const { limit } = await c.facts();
      const reranker = (await c.boot()) as Reranker;
      const documents = Array.from({ length: limit * 2 + 1 }, (_, i) => `document ${i} about ${i % 3 === 0 ? 'apples and pears' : 'pears'}`);
      const results = await reranker
        .rerank('apples', documents)
        .catch((err: unknown) => c.fail(`rerank of ${documents.length} documents failed: ${describeError(err)}`));
      checkBatches(c, documents, limit);
      checkRanking(c, results, documents);
      // A document scored alone must score the same: a batch's scores belong to its documents.
      for (const i of [0, limit - 1, limit, documents.length - 1]) {
        const [alone] = await reranker.rerank('apples', [documents[i]!]);
        const merged = results.find((r) => r.index === i)!;
        c.expect(
          alone!.score === merged.score,
          `document ${i} scored ${merged.score} in a batch and ${alone!.score} alone: the batch's scores are not in the order of its documents (or the fake's scores depend on the batch)`,
        );
      }
    },

    'batchSize lowers the limit': async (c) => {
      const reranker = (await c.boot({ batchSize: 2 })) as Reranker;
      const documents = ['one', 'two', 'three', 'four', 'five'];
      await reranker.rerank('two', documents).catch((err: unknown) => c.fail(`rerank of 5 documents with batchSize 2 failed: ${describeError(err)}`));
      checkBatches(c, documents, 2);
    },

    ...sharedChecks<'reranker'>((instance, signal) => (instance as Reranker).rerank('query', ['a', 'b'], { signal })),
  };
}

function describesItself<K extends ProviderKind, R extends ConformanceRequest>(c: CheckContext<K, R>, limit: number): void {
  const definition: AnyProviderDefinition = c.definition;
  c.expect(
    typeof definition.description === 'string' && definition.description.length > 0,
    'the definition has no description (one line, for error messages and docs)',
  );
  c.expect(Number.isInteger(limit) && limit > 0, `the driver's limit per request should be a whole number above 0; it is ${show(limit)}`);
  const documented = definition.docs?.batchLimit;
  c.expect(documented !== undefined, `docs.batchLimit is not given (the driver's limit for this entry is ${limit})`);
  if (!('batchSize' in c.entry())) c.equal(documented, limit, 'docs.batchLimit against the limit the driver uses for the entry');
}

/** Every request carried at most `limit` texts, the fewest requests were sent, and together they carried each text once, in order. */
function checkBatches<K extends ProviderKind, R extends ConformanceRequest>(c: CheckContext<K, R>, texts: string[], limit: number): void {
  const batches = c.fake.requests
    .map((r) => c.fake.inputsOf(r))
    .filter((inputs) => inputs !== undefined)
    .map((inputs) => [...inputs]);
  batches.forEach((batch, i) => c.expect(batch.length <= limit, `request ${i + 1} carried ${batch.length} texts, over the limit of ${limit}`));
  c.equal(batches.length, Math.ceil(texts.length / limit), `requests for ${texts.length} texts at ${limit} per request`);
  // Batches run concurrently and may arrive in any order; each is a run of the input.
  const ordered = [...batches].sort((a, b) => texts.indexOf(a[0]!) - texts.indexOf(b[0]!));
  c.expect(isSame(ordered.flat(), texts), 'the requests did not carry each text once, in input order');
}

function checkRanking<K extends ProviderKind, R extends ConformanceRequest>(
  c: CheckContext<K, R>,
  results: Array<{ index: number; score: number; document: string }>,
  documents: string[],
): void {
  c.equal(results.length, documents.length, `results for ${documents.length} documents`);
  c.equal(
    [...results.map((r) => r.index)].sort((a, b) => a - b),
    documents.map((_, i) => i),
    'the indexes of the results (each document once)',
  );
  for (const r of results) c.expect(r.document === documents[r.index], `result for index ${r.index} has another document's text`);
  for (let i = 1; i < results.length; i++) {
    c.expect(
      results[i - 1]!.score >= results[i]!.score,
      `results are not sorted by score, highest first (${results[i - 1]!.score} before ${results[i]!.score})`,
    );
  }
  c.expect(
    new Set(results.map((r) => r.score)).size > 1,
    'every document got the same score: the fake must score them apart, or the order checks prove nothing',
  );
}

function isSame(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Every list of numbers in a JSON answer, one number short: vectors of another length than asked. */
export function shortenVectors(json: unknown): unknown {
  if (Array.isArray(json)) {
    if (json.length > 1 && json.every((x) => typeof x === 'number')) return json.slice(0, -1);
    return json.map(shortenVectors);
  }
  if (json && typeof json === 'object') return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, shortenVectors(v)]));
  return json;
}
