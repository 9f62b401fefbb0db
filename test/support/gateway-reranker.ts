import { IsNotEmpty, IsString } from 'class-validator';
import { defineRerankerProvider, RerankerInstanceConfig, type RerankerCallOptions } from '@hush/providers';
import { wordOverlapScore } from '@hush/providers/testing';

/**
 * A reranker provider type for the gateway's e2e tests (the library has no built-in reranker type
 * yet): scores by word overlap, records each call, and can be told to fail the next calls.
 */
export class GatewayTestRerankerConfig extends RerankerInstanceConfig {
  @IsString() @IsNotEmpty() model!: string;
}

export interface GatewayTestRerankerState {
  calls: Array<{ instance: string; query: string; documents: string[] }>;
  /** Errors thrown by the next calls, one per call. */
  failures: Error[];
}

export function gatewayTestReranker(type = 'gateway-test-reranker') {
  const state: GatewayTestRerankerState = { calls: [], failures: [] };
  const definition = defineRerankerProvider({
    type,
    config: GatewayTestRerankerConfig,
    description: 'test-only reranker scoring by word overlap',
    create: (config, context) => ({
      model: config.model,
      maxDocuments: 100,
      async rerankBatch(query: string, documents: string[], options: RerankerCallOptions) {
        state.calls.push({ instance: context.name, query, documents });
        options.signal.throwIfAborted();
        const failure = state.failures.shift();
        if (failure) throw failure;
        return documents.map((document, index) => ({ index, score: wordOverlapScore(query, document) }));
      },
    }),
  });
  return { definition, state };
}
