import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Equals, IsArray, IsBoolean, IsIn, IsInt, IsNotEmpty, IsNumber, IsObject, IsOptional, IsString, Max, Min, ValidateNested } from 'class-validator';
import { ValidateDeep, type NestedProblem } from '../common/validation.js';

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first problem in a content array: each part an object with a string `type`; text parts carry `text`. */
function contentPartsProblem(parts: unknown[], at: string): NestedProblem | undefined {
  if (parts.length === 0) return { path: at, message: 'must be a string or a non-empty array of content parts.' };
  for (const [j, part] of parts.entries()) {
    if (!isObject(part)) return { path: `${at}[${j}]`, message: 'each content part must be an object with a "type".', code: 'invalid_type' };
    if (typeof part.type !== 'string' || part.type === '')
      return { path: `${at}[${j}].type`, message: 'each content part needs a "type" (text, image_url, input_audio, file, refusal).' };
    if (part.type === 'text' && typeof part.text !== 'string') return { path: `${at}[${j}].text`, message: 'a text part needs "text", a string.' };
  }
  return undefined;
}

/**
 * The first problem in OpenAI's `messages`, with its path inside the array. Roles and content are
 * checked; other fields of a message (name, tool_calls, reasoning_content, ...) are passed on as sent.
 */
export function chatMessagesProblem(value: unknown): NestedProblem | undefined {
  if (!Array.isArray(value)) return { path: '', message: 'must be an array of messages.', code: 'invalid_type' };
  if (value.length === 0) return { path: '', message: 'must contain at least one message.' };
  for (const [i, message] of value.entries()) {
    const at = `[${i}]`;
    if (!isObject(message)) return { path: at, message: 'each message must be an object with "role" and "content".', code: 'invalid_type' };
    const { role, content } = message;
    if (role === undefined) return { path: `${at}.role`, message: 'is required.', code: 'missing_required_parameter' };
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      return { path: `${at}.role`, message: `must be one of ${ROLES.map((r) => `'${r}'`).join(', ')}.` };
    }
    if (message.name !== undefined && typeof message.name !== 'string') return { path: `${at}.name`, message: 'must be a string.', code: 'invalid_type' };
    if (role === 'assistant') {
      const hasToolCalls = Array.isArray(message.tool_calls) && message.tool_calls.length > 0;
      if (message.tool_calls !== undefined && message.tool_calls !== null && !Array.isArray(message.tool_calls)) {
        return { path: `${at}.tool_calls`, message: 'must be an array of tool calls.', code: 'invalid_type' };
      }
      if (hasToolCalls) {
        const bad = (message.tool_calls as unknown[]).findIndex((c) => !isObject(c) || typeof c.id !== 'string' || typeof c.type !== 'string');
        if (bad >= 0) return { path: `${at}.tool_calls[${bad}]`, message: 'each tool call needs "id" and "type" strings.' };
      }
      if (content === undefined || content === null) {
        if (hasToolCalls || message.function_call != null || message.audio != null || message.refusal != null) continue;
        return { path: `${at}.content`, message: 'is required unless tool_calls is given.', code: 'missing_required_parameter' };
      }
    } else if (content === undefined || (content === null && role !== 'function')) {
      return { path: `${at}.content`, message: 'is required.', code: 'missing_required_parameter' };
    }
    if (typeof content !== 'string' && content !== null) {
      if (!Array.isArray(content)) return { path: `${at}.content`, message: 'must be a string or an array of content parts.', code: 'invalid_type' };
      const problem = contentPartsProblem(content, `${at}.content`);
      if (problem) return problem;
    }
    if (role === 'tool' && (typeof message.tool_call_id !== 'string' || message.tool_call_id === '')) {
      return { path: `${at}.tool_call_id`, message: 'is required for tool messages.', code: 'missing_required_parameter' };
    }
  }
  return undefined;
}

function stopProblem(value: unknown): NestedProblem | undefined {
  if (typeof value === 'string') return undefined;
  if (Array.isArray(value)) {
    if (value.length > 4) return { path: '', message: 'at most 4 stop sequences.' };
    const bad = value.findIndex((s) => typeof s !== 'string');
    return bad >= 0 ? { path: `[${bad}]`, message: 'must be a string.', code: 'invalid_type' } : undefined;
  }
  return { path: '', message: 'must be a string or an array of up to 4 strings.', code: 'invalid_type' };
}

function toolsProblem(value: unknown): NestedProblem | undefined {
  if (!Array.isArray(value)) return { path: '', message: 'must be an array of tools.', code: 'invalid_type' };
  for (const [i, tool] of value.entries()) {
    if (!isObject(tool)) return { path: `[${i}]`, message: 'each tool must be an object.', code: 'invalid_type' };
    if (typeof tool.type !== 'string') return { path: `[${i}].type`, message: "is required ('function' or 'custom').", code: 'missing_required_parameter' };
    if (tool.type === 'function') {
      if (!isObject(tool.function)) return { path: `[${i}].function`, message: 'is required for a function tool.', code: 'missing_required_parameter' };
      if (typeof tool.function.name !== 'string' || tool.function.name === '')
        return { path: `[${i}].function.name`, message: 'is required.', code: 'missing_required_parameter' };
    }
  }
  return undefined;
}

function toolChoiceProblem(value: unknown): NestedProblem | undefined {
  if (value === 'none' || value === 'auto' || value === 'required') return undefined;
  if (isObject(value) && typeof value.type === 'string') return undefined;
  return { path: '', message: "must be 'none', 'auto', 'required' or an object naming a tool." };
}

function responseFormatProblem(value: unknown): NestedProblem | undefined {
  if (!isObject(value)) return { path: '', message: 'must be an object.', code: 'invalid_type' };
  if (!['text', 'json_object', 'json_schema'].includes(value.type as string)) {
    return { path: '.type', message: "must be 'text', 'json_object' or 'json_schema'." };
  }
  if (value.type === 'json_schema' && !isObject(value.json_schema)) {
    return { path: '.json_schema', message: "is required when type is 'json_schema'.", code: 'missing_required_parameter' };
  }
  return undefined;
}

export class StreamOptionsDto {
  @ApiPropertyOptional({ description: 'Send a last chunk with the usage of the whole request (and `usage: null` on the others).' })
  @IsOptional()
  @IsBoolean()
  include_usage?: boolean;

  @ApiPropertyOptional({ description: 'Accepted for compatibility; the gateway does not pad chunks.' })
  @IsOptional()
  @IsBoolean()
  include_obfuscation?: boolean;
}

/**
 * `POST /v1/chat/completions`: OpenAI's request body. `model` is an LLM name from the providers
 * config. Every OpenAI chat parameter is accepted and passed on; anything else is refused with 400,
 * as OpenAI does ("Unrecognized request argument supplied").
 */
export class ChatCompletionRequestDto {
  @ApiProperty({ description: 'An LLM name from the providers config (GET /v1/models, kind "llm").', example: 'chat' })
  @IsString()
  @IsNotEmpty()
  model!: string;

  @ApiProperty({
    description: 'The conversation: objects with a `role` (system, developer, user, assistant, tool) and `content` (a string or content parts).',
    type: 'array',
    items: {
      type: 'object',
      additionalProperties: true,
      properties: { role: { type: 'string' }, content: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }] } },
    },
    example: [{ role: 'user', content: 'Hello!' }],
  })
  @ValidateDeep('isChatMessages', chatMessagesProblem)
  messages!: Array<Record<string, unknown>>;

  @ApiPropertyOptional({ description: 'Answer as server-sent events, one `data:` line per chunk, `data: [DONE]` last.' })
  @IsOptional()
  @IsBoolean()
  stream?: boolean | null;

  @ApiPropertyOptional({ type: StreamOptionsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => StreamOptionsDto)
  stream_options?: StreamOptionsDto | null;

  @ApiPropertyOptional({ minimum: 0, maximum: 2 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(2)
  temperature?: number | null;

  @ApiPropertyOptional({ minimum: 0, maximum: 1 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  top_p?: number | null;

  @ApiPropertyOptional({ minimum: 1, description: 'Deprecated by OpenAI in favour of max_completion_tokens; both are passed on.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  max_tokens?: number | null;

  @ApiPropertyOptional({ minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  max_completion_tokens?: number | null;

  @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }] })
  @IsOptional()
  @ValidateDeep('isStop', stopProblem)
  stop?: string | string[] | null;

  @ApiPropertyOptional({ type: 'array', items: { type: 'object', additionalProperties: true } })
  @IsOptional()
  @ValidateDeep('isTools', toolsProblem)
  tools?: Array<Record<string, unknown>>;

  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', enum: ['none', 'auto', 'required'] },
      { type: 'object', additionalProperties: true },
    ],
  })
  @IsOptional()
  @ValidateDeep('isToolChoice', toolChoiceProblem)
  tool_choice?: string | Record<string, unknown>;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  parallel_tool_calls?: boolean;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: "{ type: 'text' | 'json_object' | 'json_schema', json_schema? }" })
  @IsOptional()
  @ValidateDeep('isResponseFormat', responseFormatProblem)
  response_format?: Record<string, unknown>;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  seed?: number | null;

  @ApiPropertyOptional({ description: 'Only 1 is supported.', minimum: 1, maximum: 1 })
  @IsOptional()
  @IsInt()
  @Equals(1, { message: 'this gateway returns one choice per request; only n=1 is supported', context: { code: 'unsupported_value' } })
  n?: number | null;

  @ApiPropertyOptional({ minimum: -2, maximum: 2 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-2)
  @Max(2)
  frequency_penalty?: number | null;

  @ApiPropertyOptional({ minimum: -2, maximum: 2 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-2)
  @Max(2)
  presence_penalty?: number | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'number' } })
  @IsOptional()
  @IsObject()
  logit_bias?: Record<string, number> | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  logprobs?: boolean | null;

  @ApiPropertyOptional({ minimum: 0, maximum: 20 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(20)
  top_logprobs?: number | null;

  @ApiPropertyOptional({ description: 'An end-user id, passed on.' })
  @IsOptional()
  @IsString()
  user?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  safety_identifier?: string | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  prompt_cache_key?: string | null;

  @ApiPropertyOptional({ enum: ['in_memory', '24h'] })
  @IsOptional()
  @IsIn(['in_memory', '24h'])
  prompt_cache_retention?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  prompt_cache_options?: Record<string, unknown>;

  @ApiPropertyOptional({ enum: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] })
  @IsOptional()
  @IsIn(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'])
  reasoning_effort?: string | null;

  @ApiPropertyOptional({ enum: ['low', 'medium', 'high'] })
  @IsOptional()
  @IsIn(['low', 'medium', 'high'])
  verbosity?: string | null;

  @ApiPropertyOptional({ enum: ['auto', 'default', 'flex', 'scale', 'priority'] })
  @IsOptional()
  @IsIn(['auto', 'default', 'flex', 'scale', 'priority'])
  service_tier?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, string> | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  store?: boolean | null;

  @ApiPropertyOptional({ type: 'array', items: { type: 'string', enum: ['text', 'audio'] } })
  @IsOptional()
  @IsArray()
  @IsIn(['text', 'audio'], { each: true })
  modalities?: string[] | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  audio?: Record<string, unknown> | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  prediction?: Record<string, unknown> | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  web_search_options?: Record<string, unknown>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  moderation?: Record<string, unknown> | null;

  @ApiPropertyOptional({ deprecated: true, type: 'array', items: { type: 'object', additionalProperties: true } })
  @IsOptional()
  @IsArray()
  @IsObject({ each: true })
  functions?: Array<Record<string, unknown>>;

  @ApiPropertyOptional({
    deprecated: true,
    oneOf: [
      { type: 'string', enum: ['none', 'auto'] },
      { type: 'object', additionalProperties: true },
    ],
  })
  @IsOptional()
  @ValidateDeep('isFunctionCall', (v) =>
    v === 'none' || v === 'auto' || isObject(v) ? undefined : { path: '', message: "must be 'none', 'auto' or { name }." },
  )
  function_call?: string | Record<string, unknown>;
}

/** The request fields that are not call parameters: the gateway handles them itself. */
export const NON_PARAMETER_FIELDS = ['model', 'messages', 'stream', 'stream_options', 'n'] as const;
