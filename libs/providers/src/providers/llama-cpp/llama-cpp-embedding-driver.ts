import type { LlamaEmbeddingContext } from 'node-llama-cpp';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver } from '../../core/embedder.js';
import type { DriverContext } from '../../core/provider-definition.js';
import { badInput, LLAMA_CPP_MAX_EMBEDDING_INPUTS } from './llama-cpp-config.js';
import { LlamaCppDriver } from './llama-cpp-driver.js';
import { contextSizeOf, leaseModel, threadsOf, type ModelLease } from './llama-cpp-runtime.js';
import type { LlamaCppEmbedderConfig } from './llama-cpp-config.js';

const DEFAULT_CONTEXT_CAP = 512;

/**
 * An embedding model in process: the model's own pooling, then L2 normalization, so every vector
 * has unit length. `sequences` embedding contexts serve texts in parallel; more wait their turn.
 */
export class LlamaCppEmbeddingDriver extends LlamaCppDriver<LlamaEmbeddingContext> implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize: number;
  readonly supportsDimensions = false;
  /** The model's vector length. */
  readonly dimensions: number;

  private constructor(
    private readonly config: LlamaCppEmbedderConfig,
    context: DriverContext,
    lease: ModelLease,
    private readonly contexts: LlamaEmbeddingContext[],
    private readonly contextSize: number,
  ) {
    super(context, lease, contexts);
    this.model = config.model;
    this.maxBatchSize = Math.min(LLAMA_CPP_MAX_EMBEDDING_INPUTS, config.batchSize ?? LLAMA_CPP_MAX_EMBEDDING_INPUTS);
    this.dimensions = lease.model.embeddingVectorSize;
  }

  static async create(config: LlamaCppEmbedderConfig, context: DriverContext): Promise<LlamaCppEmbeddingDriver> {
    const lease = await leaseModel(config, context);
    const contexts: LlamaEmbeddingContext[] = [];
    try {
      const contextSize = contextSizeOf(config, lease, DEFAULT_CONTEXT_CAP);
      for (let i = 0; i < (config.sequences ?? 1); i++) {
        contexts.push(await lease.model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads: threadsOf(config, lease) }));
      }
      return new LlamaCppEmbeddingDriver(config, context, lease, contexts, contextSize);
    } catch (err) {
      await Promise.allSettled(contexts.map((c) => c.dispose()));
      await lease.release();
      throw err;
    }
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const prefix = options.inputType === 'query' ? this.config.queryPrefix : options.inputType === 'document' ? this.config.documentPrefix : undefined;
    const results = await this.runEach(texts, options.signal, (ctx, text) => this.embedOne(ctx, prefix ? prefix + text : text));
    const promptTokens = results.reduce((sum, r) => sum + r.tokens, 0);
    return { embeddings: results.map((r) => r.vector), usage: { promptTokens, totalTokens: promptTokens } };
  }

  protected disposeSlots(): Promise<unknown> {
    return Promise.allSettled(this.contexts.map((c) => c.dispose()));
  }

  private async embedOne(ctx: LlamaEmbeddingContext, text: string): Promise<{ vector: number[]; tokens: number }> {
    const model = this.lease.model;
    // An empty text still gets a vector: the model's own begin/end tokens around nothing.
    const input = text.length > 0 ? text : model.tokens.bos !== null ? [model.tokens.bos] : undefined;
    if (input === undefined) throw badInput(this.site, 'cannot embed an empty text with this model (it has no begin token).');
    const tokens = ctx.calculateInputLength(input);
    if (tokens >= this.contextSize) {
      throw badInput(
        this.site,
        `a text of ${tokens} tokens does not fit the embedding context of ${this.contextSize}; shorten it, or raise contextSize.`,
        'context-length',
      );
    }
    const embedding = await ctx.getEmbeddingFor(input);
    return { vector: normalize(embedding.vector), tokens };
  }
}

/** L2 normalization: unit-length vectors, so dot products are cosine similarities. */
export function normalize(vector: readonly number[]): number[] {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const norm = Math.sqrt(sum);
  if (!Number.isFinite(norm) || vector.length === 0) {
    throw new Error(`the model returned an invalid vector (${vector.length} values, norm ${norm}); is it an embedding model?`);
  }
  if (norm === 0) return Array.from(vector);
  return Array.from(vector, (x) => x / norm);
}
