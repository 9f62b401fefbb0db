import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsNotEmpty, IsOptional, IsString, Min } from 'class-validator';
import { ValidateDeep, type NestedProblem } from '../common/validation.js';

/** `documents`: a non-empty array of strings (Cohere) or of `{ text }` objects (Jina), mixed if need be. */
export function rerankDocumentsProblem(value: unknown): NestedProblem | undefined {
  if (!Array.isArray(value)) return { path: '', message: 'must be an array of strings (or of { text } objects).', code: 'invalid_type' };
  if (value.length === 0) return { path: '', message: 'must contain at least one document.' };
  for (const [i, doc] of value.entries()) {
    if (typeof doc === 'string') continue;
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
      if (typeof (doc as { text?: unknown }).text === 'string') continue;
      return { path: `[${i}].text`, message: 'a document object needs "text", a string.', code: 'missing_required_parameter' };
    }
    return { path: `[${i}]`, message: 'each document must be a string or an object { text }.', code: 'invalid_type' };
  }
  return undefined;
}

/** `POST /v1/rerank` (and `/v2/rerank`): the Cohere v2 / Jina request body. */
export class RerankRequestDto {
  @ApiProperty({ description: 'A reranker name from the providers config (GET /v1/models, kind "reranker").', example: 'default' })
  @IsString()
  @IsNotEmpty()
  model!: string;

  @ApiProperty({ example: 'What is the capital of France?' })
  @IsString()
  @IsNotEmpty()
  query!: string;

  @ApiProperty({
    description: 'Strings (Cohere) or { text } objects (Jina).',
    type: 'array',
    items: { oneOf: [{ type: 'string' }, { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }] },
    example: ['Paris is the capital of France.', 'Berlin is in Germany.'],
  })
  @ValidateDeep('isRerankDocuments', rerankDocumentsProblem)
  documents!: Array<string | { text: string }>;

  @ApiPropertyOptional({ minimum: 1, description: 'Keep only the best top_n results; default: all.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  top_n?: number;

  @ApiPropertyOptional({ default: false, description: 'Include each document as { text } in the results.' })
  @IsOptional()
  @IsBoolean()
  return_documents?: boolean;
}
