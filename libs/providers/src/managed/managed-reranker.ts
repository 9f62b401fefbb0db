import { ProviderError } from '../core/provider-error.js';
import { describeSite } from '../core/call-site.js';
import type { CallScope } from '../resilience/call-policy.js';
import { ManagedInstance, type ManagedInstanceInit } from '../resilience/managed-instance.js';
import { raceAbort } from '../core/abort.js';
import type { RerankerInstanceConfig } from '../core/instance-config.js';
import { answerCacheOf, markCache, type AnswerCache, type CacheStatus } from './answer-cache.js';
import type { RerankOptions, RerankResult, Reranker, RerankerDriver, RerankerScore } from '../core/reranker.js';

/**
 * The Reranker users inject. Large document sets are split at the service's limit, scored, merged
 * and sorted as one; `threshold` then `topK` apply to the merged list, the same for every type.
 */
export class ManagedReranker extends ManagedInstance<RerankerDriver, ManagedReranker> implements Reranker {
  declare readonly kind: 'reranker';
  readonly model: string;
  /** Scores by query and documents, when the config has `cache:`. */
  private readonly answers?: AnswerCache;

  constructor(init: ManagedInstanceInit<RerankerDriver>) {
    super(init);
    this.model = this.primaryDriver.model;
    this.answers = answerCacheOf(this.store.cache, init.config as RerankerInstanceConfig, 'reranker');
  }

  async rerank(query: string, documents: string[], options: RerankOptions = {}): Promise<RerankResult[]> {
    this.checkInput(query, documents, options);
    if (documents.length === 0) return this.answers ? markCache([], 'hit') : [];
    const scope = this.openScope(options.timeoutMs, options.signal);
    scope.headers = options.headers;
    const observation = (scope.observation = this.telemetry.start({
      kind: 'reranker',
      operation: 'rerank',
      call: 'rerank',
      instance: this.name,
      type: this.type,
      model: this.model,
      pricing: this.pricing,
      attributes: { 'hush.rerank.documents': documents.length },
    }));
    let scores: number[];
    let status: CacheStatus | undefined;
    try {
      const answers = this.answers;
      if (answers) {
        ({ scores, status } = await scope.run(() => this.scoreCached(answers, query, documents, scope)));
        observation.cache(status);
      } else {
        scores = await scope.run(() => this.withFallbacks(scope, (target) => target.scoreAll(query, documents, scope)));
      }
      observation.end();
    } catch (err) {
      observation.end(err);
      throw err;
    } finally {
      scope.dispose();
    }
    const results = scores
      .map((score, index) => ({ index, score, document: documents[index]! }))
      .filter((r) => options.threshold === undefined || r.score >= options.threshold)
      .sort((a, b) => b.score - a.score || a.index - b.index);
    const kept = options.topK === undefined ? results : results.slice(0, options.topK);
    return status ? markCache(kept, status) : kept;
  }

  /**
   * Every document's score through the cache, keyed by the query and the ordered documents: the
   * scores are kept before `threshold` and `topK` apply, so calls that differ only in those share an
   * entry. Scores from a fallback of another type or model are returned but not stored.
   */
  private async scoreCached(answers: AnswerCache, query: string, documents: string[], scope: CallScope): Promise<{ scores: number[]; status: CacheStatus }> {
    const key = answers.key([this.name, this.type, this.model, query, documents]);
    const [stored] = await raceAbort(answers.get([key]), scope.signal).catch((err: unknown) => {
      throw scope.failure(err, this);
    });
    const cached = stored === undefined ? undefined : parseScores(stored, documents.length);
    if (cached) return { scores: cached, status: 'hit' };
    const answered: { by?: ManagedReranker } = {};
    const scores = await this.withFallbacks(scope, (target) => ((answered.by = target), target.scoreAll(query, documents, scope)));
    if (answered.by?.type === this.type && answered.by.model === this.model) await answers.set([[key, JSON.stringify(scores)]]);
    return { scores, status: 'miss' };
  }

  private checkInput(query: unknown, documents: unknown, options: RerankOptions): void {
    const bad = (message: string) =>
      new ProviderError(`${describeSite(this)}: ${message}`, { instance: this.name, type: this.type, kind: this.kind, retryable: false, code: 'bad-input' });
    if (typeof query !== 'string') throw bad(`rerank() query must be a string; got ${typeof query}.`);
    if (!Array.isArray(documents)) throw bad(`rerank() documents must be an array of strings; got ${typeof documents}.`);
    const index = documents.findIndex((d) => typeof d !== 'string');
    if (index >= 0) throw bad(`rerank() document [${index}] is ${typeof documents[index]}, not a string.`);
    if (options.topK !== undefined && !(Number.isInteger(options.topK) && options.topK >= 0)) {
      throw bad(`topK must be a whole number ≥ 0; got ${options.topK}.`);
    }
    if (options.threshold !== undefined && !Number.isFinite(options.threshold)) {
      throw bad(`threshold must be a finite number; got ${options.threshold}.`);
    }
  }

  /** One score per document, in input order, from as many requests as the service's limit needs. */
  private async scoreAll(query: string, documents: string[], scope: CallScope): Promise<number[]> {
    const scored = await this.inBatches(
      documents,
      (d) => d.maxDocuments,
      (batch) =>
        this.attempt(
          scope,
          async (driver, signal) => this.checkScores(await driver.rerankBatch(query, batch, { signal }), batch.length),
          // Rerankers read the query once per document.
          { estimate: Math.ceil(batch.reduce((sum, d) => sum + d.length + query.length, 0) / 4) },
        ),
    );
    return scored.flat();
  }

  /** Puts a batch's scores in document order, refusing answers that miss or repeat a document. */
  private checkScores(result: RerankerScore[], count: number): number[] {
    const scores = new Array<number | undefined>(count).fill(undefined);
    for (const { index, score } of Array.isArray(result) ? result : []) {
      if (!Number.isInteger(index) || index < 0 || index >= count || scores[index] !== undefined || typeof score !== 'number' || Number.isNaN(score)) {
        throw this.badResponse(`answered an invalid or repeated result (index ${index}, score ${score}) for ${count} documents.`);
      }
      scores[index] = score;
    }
    const missing = scores.findIndex((s) => s === undefined);
    if (missing >= 0) throw this.badResponse(`left document ${missing} of ${count} unscored.`);
    return scores as number[];
  }

  private badResponse(message: string): ProviderError {
    return new ProviderError(`${describeSite(this)}: ${message}`, {
      instance: this.name,
      type: this.type,
      kind: this.kind,
      retryable: false,
      code: 'bad-response',
    });
  }
}

/** Stored scores, when they are one finite number per document. */
function parseScores(stored: string, count: number): number[] | undefined {
  try {
    const scores: unknown = JSON.parse(stored);
    return Array.isArray(scores) && scores.length === count && scores.every((s) => typeof s === 'number' && Number.isFinite(s)) ? scores : undefined;
  } catch {
    return undefined;
  }
}
