import type { AnyProviderDefinition } from '../core/provider-definition.js';
import type { ProviderKind } from '../core/provider-kind.js';
import { embedderChecks, rerankerChecks, type Check } from './conformance-checks.js';
import { withContext, type ConformanceOptions, type ConformanceRequest } from './conformance-kit.js';

/**
 * The conformance suite of a provider type: the checks the library's catalogue runs on every
 * built-in HTTP embedder and reranker, for a type of your own, against a fake of its service.
 *
 * It is plain async functions that throw a descriptive `ConformanceError`, so it runs under any test
 * runner and the library depends on none:
 *
 * ```ts
 * const checks = providerConformance(acmeEmbedder, { fake: () => ServiceFake.start(acmeService), entry: { model: 'acme-embed-1', apiKey: KEY } });
 * describe('acme embedder', () => { for (const check of checks) it(check.name, check.run); });
 * ```
 *
 * or, with the runner's functions handed over, `describeProviderConformance(acmeEmbedder, options, { describe, it })`.
 */

/** One check: a name for the test runner, and its body. */
export interface ConformanceCheck {
  readonly name: string;
  run(): Promise<void>;
}

const CHECKS: { [K in ProviderKind]?: () => Record<string, Check<K>> } = {
  embedding: embedderChecks,
  reranker: rerankerChecks,
};

/** The checks of an embedding or reranker type, each against a fresh fake from `options.fake`. */
export function providerConformance<R extends ConformanceRequest>(definition: AnyProviderDefinition, options: ConformanceOptions<R>): ConformanceCheck[] {
  const checks = CHECKS[definition.kind] as (() => Record<string, Check<ProviderKind>>) | undefined;
  if (!checks)
    throw new TypeError(`providerConformance: ${definition.kind} type "${definition.type}": only embedding and reranker types have a conformance suite`);
  return Object.entries(checks()).map(([name, check]) => ({
    name,
    run: () => withContext(definition, options, name, check),
  }));
}

/** The test runner's functions the suite registers its checks with (vitest's, jest's, mocha's). */
export interface ConformanceRunner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>, timeoutMs?: number): unknown;
}

/**
 * Registers the checks as one `describe` block of one test each. The runner's functions are passed
 * in, so the library needs no test framework.
 */
export function describeProviderConformance<R extends ConformanceRequest>(
  definition: AnyProviderDefinition,
  options: ConformanceOptions<R> & { timeoutMs?: number },
  runner: ConformanceRunner,
): void {
  const checks = providerConformance(definition, options);
  runner.describe(`${definition.kind} type "${definition.type}" conformance`, () => {
    for (const check of checks) runner.it(check.name, () => check.run(), options.timeoutMs ?? 30_000);
  });
}
