import { Injectable } from '@nestjs/common';
import { ModelResolver } from '../common/models.js';
import type { EmbeddingRequestDto } from './embeddings.dto.js';

export interface EmbeddingResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

@Injectable()
export class EmbeddingsService {
  constructor(private readonly models: ModelResolver) {}

  /** The OpenAI answer; `onResult` sees the library's result first (whether it came from the cache). */
  async embed(body: EmbeddingRequestDto, signal: AbortSignal, onResult?: (result: object) => void): Promise<EmbeddingResponse> {
    const embedder = this.models.resolve('embedding', body.model);
    // base64 goes through as the upstream sent it, where it did (no decode and re-encode).
    const vectors = body.encoding_format === 'base64' ? 'base64' : 'number';
    const result = await embedder.embed(body.input, {
      dimensions: body.dimensions,
      inputType: body.input_type,
      signal,
      vectors,
    });
    onResult?.(result);
    const promptTokens = result.usage?.promptTokens ?? 0;
    return {
      object: 'list',
      data: result.embeddings.map((vector, index) => ({ object: 'embedding', index, embedding: vector })),
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: result.usage?.totalTokens ?? promptTokens },
    };
  }
}
