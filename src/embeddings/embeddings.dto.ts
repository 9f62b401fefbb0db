import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Max, Min } from 'class-validator';
import { ValidateDeep, type NestedProblem } from '../common/validation.js';

const isTokens = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');

/** `input`: a non-empty string, or a non-empty array of non-empty strings. Token arrays are refused. */
export function embeddingInputProblem(value: unknown): NestedProblem | undefined {
  const tokens = { path: '', message: 'token arrays are not supported by this gateway; send the text instead.', code: 'unsupported_value' as const };
  if (typeof value === 'string') return value === '' ? { path: '', message: 'must not be an empty string.' } : undefined;
  if (!Array.isArray(value)) return { path: '', message: 'must be a string or an array of strings.', code: 'invalid_type' };
  if (value.length === 0) return { path: '', message: 'must not be an empty array.' };
  if (isTokens(value) || value.some(isTokens)) return tokens;
  for (const [i, item] of value.entries()) {
    if (typeof item !== 'string') return { path: `[${i}]`, message: 'must be a string.', code: 'invalid_type' };
    if (item === '') return { path: `[${i}]`, message: 'must not be an empty string.' };
  }
  return undefined;
}

/** `POST /v1/embeddings`: OpenAI's request body. `model` is an embedding name from the providers config. */
export class EmbeddingRequestDto {
  @ApiProperty({ description: 'An embedding name from the providers config (GET /v1/models, kind "embedding").', example: 'docs' })
  @IsString()
  @IsNotEmpty()
  model!: string;

  @ApiProperty({
    description: 'Text to embed: a string or an array of strings (token arrays are not supported).',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['first text', 'second text'],
  })
  @ValidateDeep('isEmbeddingInput', embeddingInputProblem)
  input!: string | string[];

  @ApiPropertyOptional({
    enum: ['float', 'base64'],
    default: 'float',
    description: 'base64: little-endian float32 bytes, base64-encoded (what the openai client asks for by default).',
  })
  @IsOptional()
  @IsIn(['float', 'base64'], { message: "must be 'float' or 'base64'" })
  encoding_format?: 'float' | 'base64';

  @ApiPropertyOptional({ minimum: 1, description: 'Vector length, passed on where the model supports it; the result is always checked.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65536)
  dimensions?: number;

  @ApiPropertyOptional({ description: 'An end-user id; accepted, not passed on.' })
  @IsOptional()
  @IsString()
  user?: string;

  @ApiPropertyOptional({ enum: ['query', 'document'], description: 'Gateway extension: for models that embed queries and documents differently.' })
  @IsOptional()
  @IsIn(['query', 'document'], { message: "must be 'query' or 'document'" })
  input_type?: 'query' | 'document';
}
