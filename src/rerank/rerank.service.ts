import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ModelResolver } from '../common/models.js';
import type { RerankRequestDto } from './rerank.dto.js';

export interface RerankResponse {
  id: string;
  model: string;
  results: Array<{ index: number; relevance_score: number; document?: { text: string } }>;
  meta: { api_version: { version: string } };
}

@Injectable()
export class RerankService {
  constructor(private readonly models: ModelResolver) {}

  /** The Cohere-shaped answer; `onResult` sees the library's result first (whether it came from the cache). */
  async rerank(body: RerankRequestDto, signal: AbortSignal, onResult?: (result: object) => void): Promise<RerankResponse> {
    const reranker = this.models.resolve('reranker', body.model);
    const documents = body.documents.map((d) => (typeof d === 'string' ? d : d.text));
    const results = await reranker.rerank(body.query, documents, { topK: body.top_n, signal });
    onResult?.(results);
    return {
      id: randomUUID(),
      model: body.model,
      results: results.map((r) => ({
        index: r.index,
        relevance_score: r.score,
        ...(body.return_documents === true ? { document: { text: documents[r.index] ?? r.document } } : {}),
      })),
      meta: { api_version: { version: '2' } },
    };
  }
}
