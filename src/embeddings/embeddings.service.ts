import { Injectable } from '@nestjs/common';
import { ModelResolver } from '../common/models.js';
import type { EmbeddingRequestDto } from './embeddings.dto.js';

export interface EmbeddingResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** A vector as OpenAI's `base64` encoding: little-endian float32 bytes, base64. */
export function encodeBase64Float32(vector: readonly number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString('base64');
}

@Injectable()
export class EmbeddingsService {
  constructor(private readonly models: ModelResolver) {}

  async embed(body: EmbeddingRequestDto, signal: AbortSignal): Promise<EmbeddingResponse> {
    const embedder = this.models.resolve('embedding', body.model);
    const result = await embedder.embed(body.input, { dimensions: body.dimensions, inputType: body.input_type, signal });
    const base64 = body.encoding_format === 'base64';
    const promptTokens = result.usage?.promptTokens ?? 0;
    return {
      object: 'list',
      data: result.embeddings.map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? encodeBase64Float32(vector) : vector })),
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: result.usage?.totalTokens ?? promptTokens },
    };
  }
}
