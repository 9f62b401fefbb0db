import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { ProviderError, ProvidersModule, ProvidersRegistry, type ChatCompletionChunk } from '@hush/providers';
import { FaultServer, relevance, vectorOf, type FaultKind, type WeightedFault } from './fakes/fault-server.js';
import { AT_ONCE_MS } from './support/timing.js';

/**
 * The 2,000-call run of issue 6: every kind through a primary upstream that fails 20 % of its requests
 * (503, 429 with a short retry-after-ms, connection reset, hang, a stall midway), with a healthy
 * fallback, 32 calls at once. Every call must succeed or fail with a clear error (a ProviderError with
 * a code) within its deadline, the run must end by itself within a hard bound, and once the app and
 * the servers are closed no socket, server or timer may be left behind.
 */

const CALLS = 2_000;
const CONCURRENCY = 32;
const FAULT_RATE = 0.2;
const TIMEOUT_MS = 1_500;
const IDLE_TIMEOUT_MS = 400;
/** Slack on top of a call's deadline: timers firing late on a busy, shared CPU (a call that ran on would hang). */
const MARGIN_MS = AT_ONCE_MS;
/** The whole run, calls and cleanup, must end by then. */
const HARD_BOUND_MS = 60_000;
const SEED = 6;

const QUESTION = 'soak test question';
const TEXTS = ['alpha', 'beta'];
const QUERY = 'red apple';
const DOCUMENTS = ['green pear', 'red apple pie', 'an apple'];

const FAULTS: WeightedFault[] = [
  { fault: { kind: 'status', status: 503 }, weight: 1 },
  { fault: { kind: 'status', status: 429, retryAfterMs: 20 }, weight: 1 },
  { fault: { kind: 'reset' }, weight: 1 },
  { fault: { kind: 'hang' }, weight: 1 },
  { fault: { kind: 'stall', afterChunks: 2 }, weight: 1 },
];

/** The failures a healthy fallback cannot prevent: an attempt that hangs uses up the call's deadline, a stream that stalls after its first chunk cannot move. */
const EXPECTED_FAILURE_CODES = new Set(['timeout', 'idle-timeout']);

type CallKind = 'generate' | 'stream' | 'embed' | 'rerank';
const KINDS: CallKind[] = ['generate', 'stream', 'embed', 'rerank'];

interface Outcome {
  kind: CallKind;
  ms: number;
  ok: boolean;
  code?: string;
  error?: unknown;
}

/** Counts of the resources that keep the process alive, by type. */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

const WATCHED = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'];

/** The watched resources beyond the baseline, or undefined when there are none. */
function leftOver(baseline: Map<string, number>): Record<string, number> | undefined {
  const now = activeResources();
  const extra: Record<string, number> = {};
  for (const type of WATCHED) {
    const n = (now.get(type) ?? 0) - (baseline.get(type) ?? 0);
    if (n > 0) extra[type] = n;
  }
  return Object.keys(extra).length > 0 ? extra : undefined;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function call(registry: ProvidersRegistry, kind: CallKind): Promise<void> {
  switch (kind) {
    case 'generate': {
      const answer = await registry.llm('main').generate([{ role: 'user', content: QUESTION }]);
      expect(answer.choices[0]!.message.content).toBe(`ok: ${QUESTION}`);
      return;
    }
    case 'stream': {
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of registry.llm('main').stream([{ role: 'user', content: QUESTION }])) chunks.push(chunk);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(`ok: ${QUESTION}`);
      return;
    }
    case 'embed': {
      const result = await registry.embedder('main').embed(TEXTS);
      expect(result.embeddings).toEqual(TEXTS.map((t) => vectorOf(t, 8)));
      return;
    }
    case 'rerank': {
      const results = await registry.reranker('main').rerank(QUERY, DOCUMENTS);
      expect(results.map((r) => r.score)).toEqual(DOCUMENTS.map((d) => relevance(QUERY, d)).sort((a, b) => b - a));
      return;
    }
  }
}

describe('soak: 2,000 calls through a 20 % fault rate with a healthy fallback', () => {
  it('every call succeeds or fails clearly within its deadline; nothing hangs; nothing is left open', { timeout: HARD_BOUND_MS + 10_000 }, async () => {
    const runStarted = performance.now();
    const baseline = activeResources();
    const cwd = mkdtempSync(join(tmpdir(), 'hush-soak-'));
    const [primary, backup] = await Promise.all([FaultServer.start(), FaultServer.start()]);
    let app: INestApplicationContext | undefined;
    let hardBound: NodeJS.Timeout | undefined;
    try {
      for (const route of ['chat', 'embeddings', 'rerank'] as const) primary.rate(route, FAULT_RATE, FAULTS, SEED);
      const policy = { maxRetries: 1, timeoutMs: TIMEOUT_MS, idleTimeoutMs: IDLE_TIMEOUT_MS };
      const llm = (server: FaultServer) => ({ type: 'openai-compatible', baseUrl: server.baseUrl, model: 'soak-llm', ...policy });
      const embedding = (server: FaultServer) => ({ type: 'openai-compatible', baseUrl: server.baseUrl, model: 'soak-embed', dimensions: 8, ...policy });
      const reranker = (server: FaultServer) => ({ type: 'vllm', baseUrl: server.origin, model: 'soak-rerank', ...policy });

      @Module({
        imports: [
          ProvidersModule.forRoot({
            env: {},
            cwd,
            shutdownGraceMs: 500,
            config: {
              llm: { main: { ...llm(primary), fallbacks: ['backup'] }, backup: llm(backup) },
              embedding: { main: { ...embedding(primary), fallbacks: ['backup'] }, backup: embedding(backup) },
              reranker: { main: { ...reranker(primary), fallbacks: ['backup'] }, backup: reranker(backup) },
            },
          }),
        ],
      })
      class SoakModule {}
      app = await NestFactory.createApplicationContext(SoakModule, { logger: false });
      const registry = app.get(ProvidersRegistry);

      // 32 workers take the calls in turn; the kinds alternate.
      const outcomes: Outcome[] = [];
      const pending = new Map<number, { kind: CallKind; started: number }>();
      let next = 0;
      const worker = async () => {
        while (next < CALLS) {
          const index = next++;
          const kind = KINDS[index % KINDS.length]!;
          const started = performance.now();
          pending.set(index, { kind, started });
          try {
            await call(registry, kind);
            outcomes.push({ kind, ms: performance.now() - started, ok: true });
          } catch (error) {
            const code = error instanceof ProviderError ? error.code : undefined;
            outcomes.push({ kind, ms: performance.now() - started, ok: false, code, error });
          } finally {
            pending.delete(index);
          }
        }
      };
      const bound = new Promise<never>((_, reject) => {
        hardBound = setTimeout(
          () => {
            const stuck = [...pending.entries()].slice(0, 5).map(([i, p]) => `#${i} ${p.kind} for ${Math.round(performance.now() - p.started)} ms`);
            reject(new Error(`the run did not end within ${HARD_BOUND_MS} ms: ${pending.size} calls still pending (${stuck.join(', ')})`));
          },
          HARD_BOUND_MS - (performance.now() - runStarted),
        );
      });
      await Promise.race([Promise.all(Array.from({ length: CONCURRENCY }, worker)), bound]);
      clearTimeout(hardBound);
      const wallMs = performance.now() - runStarted;

      // The summary line.
      const durations = outcomes.map((o) => o.ms).sort((a, b) => a - b);
      const failures = outcomes.filter((o) => !o.ok);
      const byCode: Record<string, number> = {};
      for (const f of failures) byCode[f.code ?? (f.error as Error)?.name ?? 'unknown'] = (byCode[f.code ?? (f.error as Error)?.name ?? 'unknown'] ?? 0) + 1;
      const injected: Partial<Record<FaultKind, number>> = {};
      for (const r of primary.requests) if (r.fault) injected[r.fault] = (injected[r.fault] ?? 0) + 1;
      console.log(
        `soak: ${outcomes.length} calls, ${outcomes.length - failures.length} ok, failures ${JSON.stringify(byCode)}, ` +
          `p50 ${Math.round(percentile(durations, 50))} ms, p99 ${Math.round(percentile(durations, 99))} ms, max ${Math.round(durations.at(-1)!)} ms; ` +
          `upstream attempts: primary ${primary.requests.length} (faults ${JSON.stringify(injected)}), fallback ${backup.requests.length}; ${(wallMs / 1000).toFixed(1)} s`,
      );

      expect(outcomes).toHaveLength(CALLS);
      expect(pending.size).toBe(0);
      // Every failure is a clear one: a ProviderError with a code that the faults explain.
      for (const f of failures) {
        expect(f.error, `${f.kind}: ${String(f.error)}`).toBeInstanceOf(ProviderError);
        expect(EXPECTED_FAILURE_CODES.has(f.code!), `${f.kind} failed with code ${f.code}: ${String(f.error)}`).toBe(true);
        expect((f.error as ProviderError).instance).toBe('main');
      }
      // Every call ended within its deadline (a stream's covers the whole stream).
      const late = outcomes.filter((o) => o.ms > TIMEOUT_MS + MARGIN_MS);
      expect(late.map((o) => `${o.kind} ${o.ok ? 'ok' : o.code} in ${Math.round(o.ms)} ms`)).toEqual([]);
      // The faults happened, about as often as asked, of every kind, on every route; the fallback took its share.
      const faulted = primary.requests.filter((r) => r.fault).length;
      expect(faulted / primary.requests.length).toBeGreaterThan(FAULT_RATE - 0.05);
      expect(faulted / primary.requests.length).toBeLessThan(FAULT_RATE + 0.05);
      for (const route of ['chat', 'embeddings', 'rerank'] as const) {
        const kinds = new Set(primary.requests.filter((r) => r.route === route && r.fault).map((r) => r.fault));
        expect([...kinds].sort()).toEqual(['hang', 'reset', 'stall', 'status']);
      }
      expect(backup.requests.length).toBeGreaterThan(0);
      expect(backup.requests.every((r) => !r.fault)).toBe(true);
      // Only hangs and stalls can fail a call: far fewer than the faults injected.
      expect(failures.length).toBeLessThan(CALLS * FAULT_RATE * 0.75);
      expect(outcomes.length - failures.length).toBeGreaterThan(CALLS * 0.85);
      for (const kind of KINDS) expect(outcomes.filter((o) => o.kind === kind && o.ok).length).toBeGreaterThan((CALLS / KINDS.length) * 0.8);
    } finally {
      clearTimeout(hardBound);
      await app?.close();
      await Promise.all([primary.close(), backup.close()]);
      rmSync(cwd, { recursive: true, force: true });
    }

    // Nothing left open: sockets, servers and timers back to the baseline (after a short settle).
    let extra = leftOver(baseline);
    for (let waited = 0; extra && waited < 3_000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      extra = leftOver(baseline);
    }
    expect(extra, `left open after close: ${JSON.stringify(extra)} (all: ${process.getActiveResourcesInfo().join(', ')})`).toBeUndefined();
    expect(performance.now() - runStarted).toBeLessThan(HARD_BOUND_MS);
  });
});
