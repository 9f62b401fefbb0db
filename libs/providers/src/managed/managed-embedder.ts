import type { EmbeddingInstanceConfig } from '../core/instance-config.js';
import { describeSite } from '../core/call-site.js';
import { ProviderError } from '../core/provider-error.js';
import type { CallScope } from '../resilience/call-policy.js';
import { ManagedInstance, type ManagedInstanceInit } from '../resilience/managed-instance.js';
import type { EmbedOptions, Embedder, EmbedderDriver, EmbeddingResult, EmbeddingUsage } from '../core/embedder.js';

/** The Embedder users inject: batching, ordering and the dimensions check around a driver. */
export class ManagedEmbedder extends ManagedInstance<EmbedderDriver, ManagedEmbedder> implements Embedder {
  declare readonly kind: 'embedding';
  readonly model: string;
  private readonly configuredDimensions?: number;
  private observedDimensions?: number;

  constructor(init: ManagedInstanceInit<EmbedderDriver>) {
    super(init);
    const config = init.config as EmbeddingInstanceConfig;
    this.model = this.primaryDriver.model;
    this.configuredDimensions = config.dimensions;
  }

  /** The configured vector length, else the one the service returned last. */
  get dimensions(): number | undefined {
    return this.configuredDimensions ?? this.observedDimensions;
  }

  async embed(input: string | string[], options: EmbedOptions = {}): Promise<EmbeddingResult> {
    const texts = typeof input === 'string' ? [input] : input;
    this.checkInput(texts, options);
    const dimensions = options.dimensions ?? this.configuredDimensions;
    if (texts.length === 0) return { embeddings: [], model: this.model, dimensions: dimensions ?? this.dimensions ?? 0, usage: { promptTokens: 0, totalTokens: 0 } };
    const scope = this.openScope(options.timeoutMs, options.signal);
    try {
      return await this.withFallbacks(scope, (target) => target.embedAll(texts, options, dimensions, scope));
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
  }

  /** Splits into the driver's batches, runs them concurrently, and reassembles them in input order. */
  private async embedAll(texts: string[], options: EmbedOptions, dimensions: number | undefined, scope: CallScope): Promise<EmbeddingResult> {
    const results = await this.inBatches(texts, (d) => d.maxBatchSize, (batch) =>
      this.attempt(
        scope,
        async (d, signal) => {
          const result = await d.embedBatch(batch, {
            inputType: options.inputType,
            dimensions: d.supportsDimensions ? dimensions : undefined,
            signal,
          });
          this.checkVectors(batch.length, result.embeddings, dimensions);
          return result;
        },
        { estimate: Math.ceil(batch.reduce((sum, t) => sum + t.length, 0) / 4), actual: (r) => r.usage?.totalTokens },
      ),
    );
    const embeddings = results.flatMap((r) => r.embeddings);
    const length = embeddings[0]!.length;
    const mixed = embeddings.findIndex((v) => v.length !== length);
    if (mixed >= 0) throw this.badResponse(`vectors of different lengths in one answer (${length} and ${embeddings[mixed]!.length}).`);
    this.observedDimensions = length;
    return { embeddings, model: this.model, dimensions: length, usage: sumUsage(results.map((r) => r.usage)) };
  }

  private checkVectors(expected: number, vectors: number[][], dimensions: number | undefined): void {
    if (!Array.isArray(vectors) || vectors.length !== expected) {
      throw this.badResponse(`asked for ${expected} vectors, got ${Array.isArray(vectors) ? vectors.length : 'none'}.`);
    }
    if (dimensions !== undefined) {
      const wrong = vectors.find((v) => v.length !== dimensions);
      if (wrong) {
        throw this.badResponse(
          `returned vectors of ${wrong.length} dimensions where ${dimensions} are configured. Fix "dimensions" (or the model), or the vectors will not match your index.`,
          'dimensions',
        );
      }
    }
  }

  private badResponse(message: string, code = 'bad-response'): ProviderError {
    return new ProviderError(`${describeSite(this)}: ${message}`, { instance: this.name, type: this.type, kind: this.kind, retryable: false, code });
  }
}

function sumUsage(usages: Array<EmbeddingUsage | undefined>): EmbeddingUsage | undefined {
  if (usages.some((u) => u === undefined)) return undefined;
  return usages.reduce<EmbeddingUsage>(
    (sum, u) => ({ promptTokens: sum.promptTokens + u!.promptTokens, totalTokens: sum.totalTokens + u!.totalTokens }),
    { promptTokens: 0, totalTokens: 0 },
  );
}
