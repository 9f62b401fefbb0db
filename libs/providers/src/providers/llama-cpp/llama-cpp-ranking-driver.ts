import type { LlamaRankingContext } from 'node-llama-cpp';
import type { DriverContext } from '../../core/provider-definition.js';
import type { RerankerCallOptions, RerankerDriver, RerankerScore } from '../../core/reranker.js';
import { LLAMA_CPP_MAX_RERANK_DOCUMENTS } from './llama-cpp-config.js';
import { LlamaCppDriver } from './llama-cpp-driver.js';
import { contextSizeOf, leaseModel, threadsOf, type ModelLease } from './llama-cpp-runtime.js';
import type { LlamaCppRerankerConfig } from './llama-cpp-config.js';

const DEFAULT_CONTEXT_CAP = 512;

/**
 * A reranking model in process, through node-llama-cpp's ranking context: one score per document,
 * from 0 to 1 (the sigmoid of the model's relevance logit). A document longer than the context is
 * scored in overlapping chunks, keeping the best. `sequences` ranking contexts score in parallel.
 */
export class LlamaCppRerankingDriver extends LlamaCppDriver<LlamaRankingContext> implements RerankerDriver {
  readonly model: string;
  readonly maxDocuments: number;

  private constructor(
    config: LlamaCppRerankerConfig,
    context: DriverContext,
    lease: ModelLease,
    private readonly contexts: LlamaRankingContext[],
  ) {
    super(context, lease, contexts);
    this.model = config.model;
    this.maxDocuments = Math.min(LLAMA_CPP_MAX_RERANK_DOCUMENTS, config.batchSize ?? LLAMA_CPP_MAX_RERANK_DOCUMENTS);
  }

  static async create(config: LlamaCppRerankerConfig, context: DriverContext): Promise<LlamaCppRerankingDriver> {
    const lease = await leaseModel(config, context);
    const contexts: LlamaRankingContext[] = [];
    try {
      if (!lease.model.fileInsights.supportsRanking) {
        throw new Error(`${config.model} is not a reranking model (it has no classification head, cls.weight / cls.output.weight).`);
      }
      const contextSize = contextSizeOf(config, lease, DEFAULT_CONTEXT_CAP);
      for (let i = 0; i < (config.sequences ?? 1); i++) {
        contexts.push(await lease.model.createRankingContext({ contextSize, batchSize: contextSize, threads: threadsOf(config, lease) }));
      }
      return new LlamaCppRerankingDriver(config, context, lease, contexts);
    } catch (err) {
      await Promise.allSettled(contexts.map((c) => c.dispose()));
      await lease.release();
      throw err;
    }
  }

  rerankBatch(query: string, documents: string[], options: RerankerCallOptions): Promise<RerankerScore[]> {
    return this.runEach(documents, options.signal, async (ctx, document, index) => ({
      index,
      score: await ctx.rank(query, document, { onOverflow: 'maxChunk' }),
    }));
  }

  protected disposeSlots(): Promise<unknown> {
    return Promise.allSettled(this.contexts.map((c) => c.dispose()));
  }
}
