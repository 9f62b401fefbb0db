import type { RerankOptions, RerankResult, Reranker } from '../core/reranker.js';
import { raceAbort, sleep, throwIfAborted } from '../core/abort.js';
import { FakeInstance, type FakeInstanceOptions } from './fake-instance.js';

/** Scores one document against the query; higher is more relevant. */
export type FakeScoreFn = (query: string, document: string, index: number) => number | Promise<number>;

export interface FakeRerankerOptions extends FakeInstanceOptions {
  /** Default 'fake-rerank'. */
  model?: string;
  /** Scores each document. Default: {@link wordOverlapScore}. */
  score?: FakeScoreFn;
  /** Fixed scores by document index (instead of `score`); a call with more documents than scores rejects. */
  scores?: number[];
}

/** One recorded call; `options` without `signal`. */
export interface FakeRerankerCall {
  query: string;
  documents: string[];
  options: Omit<RerankOptions, 'signal'>;
}

/**
 * A network-free `Reranker` for tests. Results are sorted by score, highest first, ties in input
 * order; `threshold` drops scores below it, then `topK` keeps the best ones. Every call is recorded,
 * including one with no documents (which resolves with `[]`).
 */
export class FakeReranker extends FakeInstance<FakeRerankerCall> implements Reranker {
  readonly kind = 'reranker' as const;
  readonly model: string;
  private readonly score: FakeScoreFn;
  private readonly fixedScores?: readonly number[];

  constructor(options: FakeRerankerOptions = {}) {
    if (options.score && options.scores) throw new TypeError('FakeReranker: give `score` or `scores`, not both');
    super('FakeReranker', options);
    this.model = options.model ?? 'fake-rerank';
    this.score = options.score ?? wordOverlapScore;
    this.fixedScores = options.scores ? [...options.scores] : undefined;
  }

  async rerank(query: string, documents: string[], options: RerankOptions = {}): Promise<RerankResult[]> {
    const { signal, ...recorded } = options;
    this.calls.push({ query, documents: [...documents], options: recorded });
    const failure = this.failures.shift();

    throwIfAborted(signal);
    if (this.delayMs > 0) await sleep(this.delayMs, signal);
    if (failure) throw failure;

    const scores = await raceAbort(this.scoresFor(query, documents), signal);
    const { topK, threshold } = options;
    const ranked = documents
      .map((document, index) => ({ index, score: scores[index] as number, document }))
      .filter((r) => threshold === undefined || r.score >= threshold)
      // Explicit tie-break, so the order never depends on the sort implementation.
      .sort((a, b) => b.score - a.score || a.index - b.index);
    return topK === undefined ? ranked : ranked.slice(0, Math.max(0, topK));
  }

  private async scoresFor(query: string, documents: string[]): Promise<number[]> {
    if (this.fixedScores) {
      if (this.fixedScores.length < documents.length) {
        throw new RangeError(`FakeReranker "${this.name}": ${documents.length} documents but only ${this.fixedScores.length} fixed scores`);
      }
      return this.fixedScores.slice(0, documents.length);
    }
    return Promise.all(documents.map((document, index) => this.score(query, document, index)));
  }
}

/**
 * The default fake relevance: the fraction of the query's distinct words (letters and digits,
 * case-insensitive) that appear in the document, from 0 to 1. An empty query scores 0.
 */
export function wordOverlapScore(query: string, document: string): number {
  const wanted = new Set(words(query));
  if (wanted.size === 0) return 0;
  const present = new Set(words(document));
  let hits = 0;
  for (const word of wanted) if (present.has(word)) hits++;
  return hits / wanted.size;
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}
