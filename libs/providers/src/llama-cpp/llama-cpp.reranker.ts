import type { LlamaRankingContext } from 'node-llama-cpp';
import { RerankerInstanceConfig } from '../config/instance-config.js';
import { defineRerankerProvider, type DriverContext } from '../registry/provider-definition.js';
import type { RerankerCallOptions, RerankerDriver, RerankerScore } from '../reranker/reranker.js';
import {
  LLAMA_CPP_TYPE,
  withLlamaCppFields,
} from './llama-cpp-config.js';
import { contextSizeOf, leaseModel, threadsOf, type ModelLease } from './llama-cpp-runtime.js';
import { LlamaCppDriver } from './llama-cpp-driver.js';

/** Documents per driver call; the library splits larger sets and merges the scores. */
export const LLAMA_CPP_MAX_RERANK_DOCUMENTS = 256;
const DEFAULT_CONTEXT_CAP = 512;

/** `type: llama-cpp` under `reranker:`: a GGUF cross-encoder reranker run in process by node-llama-cpp. */
export class LlamaCppRerankerConfig extends withLlamaCppFields(RerankerInstanceConfig) {}

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

export const llamaCppReranker = defineRerankerProvider({
  type: LLAMA_CPP_TYPE,
  config: LlamaCppRerankerConfig,
  description: 'a GGUF reranking model (cross-encoder) run in process by node-llama-cpp (optional peer dependency)',
  docs: {
    batchLimit: LLAMA_CPP_MAX_RERANK_DOCUMENTS,
    notes: 'model is a GGUF path (or hf: URI) of a reranker with a classification head (bge-reranker, jina-reranker, ...); scores are from 0 to 1; long documents are scored in chunks, keeping the best.',
  },
  create: (config, context) => LlamaCppRerankingDriver.create(config, context),
});
