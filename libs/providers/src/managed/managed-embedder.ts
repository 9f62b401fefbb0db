import type { EmbeddingInstanceConfig } from '../core/instance-config.js';
import { describeSite } from '../core/call-site.js';
import { ProviderError } from '../core/provider-error.js';
import { raceAbort } from '../core/abort.js';
import type { CallScope } from '../resilience/call-policy.js';
import { ManagedInstance, type ManagedInstanceInit } from '../resilience/managed-instance.js';
import type { EmbedOptions, Embedder, EmbedderBatchResult, EmbedderDriver, EmbeddingResult, EmbeddingUsage, VectorFormat, VectorOf } from '../core/embedder.js';
import { convertVectors, vectorLength } from '../core/vectors.js';
import { answerCacheOf, cacheStatus, markCache, type AnswerCache, type CacheStatus } from './answer-cache.js';

const VECTOR_FORMATS: readonly VectorFormat[] = ['number', 'float32', 'base64'];
const BATCH_SIZE = 'hush.batch.size';
const DIMENSION_COUNT = 'gen_ai.embeddings.dimension.count';

/** The Embedder users inject: batching, ordering and the dimensions check around a driver. */
export class ManagedEmbedder extends ManagedInstance<EmbedderDriver, ManagedEmbedder> implements Embedder {
  declare readonly kind: 'embedding';
  readonly model: string;
  private readonly configuredDimensions?: number;
  private observedDimensions?: number;
  /** Vectors by text, when the config has `cache:`. */
  private readonly answers?: AnswerCache;

  constructor(init: ManagedInstanceInit<EmbedderDriver>) {
    super(init);
    const config = init.config as EmbeddingInstanceConfig;
    this.model = this.primaryDriver.model;
    this.configuredDimensions = config.dimensions;
    this.answers = answerCacheOf(this.store.cache, config, 'embedding');
  }

  /** The configured vector length, else the one the service returned last. */
  get dimensions(): number | undefined {
    return this.configuredDimensions ?? this.observedDimensions;
  }

  embed(input: string | string[], options?: EmbedOptions & { vectors?: 'number' }): Promise<EmbeddingResult>;
  embed<F extends VectorFormat>(input: string | string[], options: EmbedOptions & { vectors: F }): Promise<EmbeddingResult<VectorOf[F]>>;
  async embed(input: string | string[], options: EmbedOptions = {}): Promise<EmbeddingResult<VectorOf[VectorFormat]>> {
    const texts = typeof input === 'string' ? [input] : input;
    this.checkInput(texts, options);
    const dimensions = options.dimensions ?? this.configuredDimensions;
    if (texts.length === 0) {
      const empty = { embeddings: [], model: this.model, dimensions: dimensions ?? this.dimensions ?? 0, usage: { promptTokens: 0, totalTokens: 0 } };
      // Nothing to send: on a cached instance that reads as a hit, so "has a cache" always shows.
      return this.answers ? markCache(empty, 'hit') : empty;
    }
    const scope = this.openScope(options.timeoutMs, options.signal);
    scope.headers = options.headers;
    const observation = (scope.observation = this.telemetry.start({
      kind: 'embedding',
      operation: 'embeddings',
      call: 'embed',
      instance: this.name,
      type: this.type,
      model: this.model,
      pricing: this.pricing,
      attributes: { [BATCH_SIZE]: texts.length, ...(dimensions !== undefined ? { [DIMENSION_COUNT]: dimensions } : {}) },
    }));
    try {
      const answers = this.answers;
      const result = await scope.run(() =>
        answers
          ? this.embedCached(answers, texts, options, dimensions, scope)
          : this.withFallbacks(scope, (target) => target.embedAll(texts, options, dimensions, scope)),
      );
      const status = answers && cacheStatus(result);
      if (status) observation.cache(status);
      observation.result({ model: result.model, usage: result.usage ? { input: result.usage.promptTokens, output: 0 } : undefined });
      observation.end();
      return result;
    } catch (err) {
      observation.end(err);
      throw err;
    } finally {
      scope.dispose();
    }
  }

  private checkInput(texts: unknown, options: EmbedOptions): void {
    const bad = (message: string) =>
      new ProviderError(`${describeSite(this)}: ${message}`, { instance: this.name, type: this.type, kind: this.kind, retryable: false, code: 'bad-input' });
    if (!Array.isArray(texts)) throw bad(`embed() takes a string or an array of strings; got ${typeof texts}.`);
    const index = texts.findIndex((t) => typeof t !== 'string');
    if (index >= 0) throw bad(`embed() input [${index}] is ${typeof texts[index]}, not a string.`);
    if (options.dimensions !== undefined && !(Number.isInteger(options.dimensions) && options.dimensions > 0)) {
      throw bad(`the dimensions option must be a whole number above 0; got ${options.dimensions}.`);
    }
    if (options.vectors !== undefined && !VECTOR_FORMATS.includes(options.vectors)) {
      throw bad(`the vectors option must be one of ${VECTOR_FORMATS.join(', ')}; got ${String(options.vectors)}.`);
    }
  }

  /**
   * The call through the cache: each text's vector is looked up by its own key; only the texts not
   * found are sent (in their order, through the fallbacks as usual), and their vectors stored. Vectors
   * are kept as base64 of float32, the precision embedding models compute in, and the upstream is
   * asked for that form too, so a vector reads the same from a hit as from the call that stored it.
   */
  private async embedCached(
    answers: AnswerCache,
    texts: string[],
    options: EmbedOptions,
    dimensions: number | undefined,
    scope: CallScope,
  ): Promise<EmbeddingResult<VectorOf[VectorFormat]>> {
    // Fallbacks are refused across embedding spaces (same model, same dimensions), so whichever
    // instance answers, its vectors belong under this instance's keys.
    const keys = answers.keysOf([this.name, this.type, this.model, dimensions ?? null, options.inputType ?? null], texts);
    const stored = await raceAbort(answers.get(keys), scope.signal).catch((err: unknown) => {
      throw scope.failure(err, this);
    });
    const vectors = stored.map((v) => (v !== undefined && isVector(v, dimensions) ? v : undefined));
    const fromCache = vectors.map((v) => v !== undefined);
    const usages: Array<EmbeddingUsage | undefined> = [];
    let model = this.model;
    const fill = async (indexes: number[]) => {
      const result = await this.withFallbacks(scope, (target) =>
        target.embedAll(
          indexes.map((i) => texts[i]!),
          { ...options, vectors: 'base64' },
          dimensions,
          scope,
        ),
      );
      const fresh = result.embeddings as string[];
      indexes.forEach((i, n) => (vectors[i] = fresh[n]!));
      usages.push(result.usage);
      model = result.model;
      await answers.set(indexes.map((i, n) => [keys[i]!, fresh[n]!] as const));
    };
    const missing = indexes(vectors, (v) => v === undefined);
    if (missing.length > 0) await fill(missing);
    // Without configured dimensions, vectors stored before the model changed size differ from the
    // fresh ones (or from each other): those are sent again.
    const length = vectorLength(vectors[missing[0] ?? 0]!);
    const stale = indexes(vectors, (v) => vectorLength(v!) !== length);
    if (stale.length > 0) {
      for (const i of stale) fromCache[i] = false;
      await fill(stale);
    }
    const hits = fromCache.filter(Boolean).length;
    const status: CacheStatus = hits === texts.length ? 'hit' : hits === 0 ? 'miss' : 'partial';
    const embeddings = convertVectors(vectors as string[], options.vectors ?? 'number');
    const mixed = (vectors as string[]).find((v) => vectorLength(v) !== length);
    if (!embeddings || mixed !== undefined) throw this.badResponse(`vectors of different lengths in one answer (${length} and ${vectorLength(mixed ?? '')}).`);
    this.observedDimensions = length;
    const usage = usages.length === 0 ? { promptTokens: 0, totalTokens: 0 } : sumUsage(usages);
    return markCache({ embeddings, model, dimensions: length, usage }, status);
  }

  /** Splits into the driver's batches, runs them concurrently, and reassembles them in input order. */
  private async embedAll(
    texts: string[],
    options: EmbedOptions,
    dimensions: number | undefined,
    scope: CallScope,
  ): Promise<EmbeddingResult<VectorOf[VectorFormat]>> {
    const format = options.vectors ?? 'number';
    const results = await this.inBatches(
      texts,
      (d) => d.maxBatchSize,
      (batch) =>
        this.attempt(
          scope,
          async (d, signal) => {
            const result = await d.embedBatch(batch, {
              inputType: options.inputType,
              dimensions: d.supportsDimensions ? dimensions : undefined,
              vectors: format,
              signal,
            });
            const vectors = this.checkVectors(batch.length, result, dimensions);
            // Converted here, batch by batch, so a large call never holds two forms of every vector.
            const converted = convertVectors(vectors, format);
            if (!converted) throw this.badResponse('vectors of different lengths in one answer.');
            return { vectors: converted, usage: result.usage };
          },
          { estimate: Math.ceil(batch.reduce((sum, t) => sum + t.length, 0) / 4), actual: (r) => r.usage?.totalTokens },
        ),
    );
    const embeddings = results.length === 1 ? results[0]!.vectors : results.flatMap((r) => r.vectors);
    const length = vectorLength(embeddings[0]!);
    const mixed = embeddings.findIndex((v) => vectorLength(v) !== length);
    if (mixed >= 0) throw this.badResponse(`vectors of different lengths in one answer (${length} and ${vectorLength(embeddings[mixed]!)}).`);
    this.observedDimensions = length;
    return { embeddings, model: this.model, dimensions: length, usage: sumUsage(results.map((r) => r.usage)) };
  }

  /** The batch's vectors, in whichever form the driver gave them, once their count and lengths are right. */
  private checkVectors(expected: number, result: EmbedderBatchResult, dimensions: number | undefined): Array<number[] | Float32Array> | string[] {
    const vectors = result.base64 ?? result.embeddings;
    if (!Array.isArray(vectors) || vectors.length !== expected) {
      throw this.badResponse(`asked for ${expected} vectors, got ${Array.isArray(vectors) ? vectors.length : 'none'}.`);
    }
    if (dimensions !== undefined) {
      const wrong = (vectors as Array<number[] | Float32Array | string>).find((v) => vectorLength(v) !== dimensions);
      if (wrong !== undefined) {
        throw this.badResponse(
          `returned vectors of ${vectorLength(wrong)} dimensions where ${dimensions} are configured. Fix "dimensions" (or the model), or the vectors will not match your index.`,
          'dimensions',
        );
      }
    }
    return vectors;
  }

  private badResponse(message: string, code = 'bad-response'): ProviderError {
    return new ProviderError(`${describeSite(this)}: ${message}`, { instance: this.name, type: this.type, kind: this.kind, retryable: false, code });
  }
}

/** A stored vector that can stand for this call's: whole float32s, as many as the dimensions asked (when asked). */
function isVector(value: string, dimensions: number | undefined): boolean {
  const bytes = Buffer.byteLength(value, 'base64');
  return bytes > 0 && bytes % 4 === 0 && (dimensions === undefined || bytes === dimensions * 4);
}

function indexes<T>(values: readonly T[], test: (value: T) => boolean): number[] {
  const found: number[] = [];
  values.forEach((v, i) => test(v) && found.push(i));
  return found;
}

function sumUsage(usages: Array<EmbeddingUsage | undefined>): EmbeddingUsage | undefined {
  if (usages.some((u) => u === undefined)) return undefined;
  return usages.reduce<EmbeddingUsage>((sum, u) => ({ promptTokens: sum.promptTokens + u!.promptTokens, totalTokens: sum.totalTokens + u!.totalTokens }), {
    promptTokens: 0,
    totalTokens: 0,
  });
}
