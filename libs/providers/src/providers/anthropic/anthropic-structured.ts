import type { ChatCompletion, ChatCompletionChunk } from '../../core/llm.js';

/**
 * `response_format: { type: 'json_schema' }` (or `json_object`) on Anthropic, which has no such parameter: the schema
 * becomes a tool the model is made to call (`tool_choice: { type: 'tool' }`), and the tool's input is
 * handed back as the message's JSON text, as the OpenAI-shaped services answer.
 */

type Json = Record<string, unknown>;
const isJson = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The forced tool asked for, by name; absent when the call asks for no JSON schema. */
export interface StructuredTool {
  readonly name: string;
}

/**
 * The call's parameters with a JSON-schema `response_format` turned into a forced function tool
 * (added to the call's own tools), and that tool; the parameters unchanged when there is none.
 */
export function withStructuredTool(params: Json): { params: Json; tool?: StructuredTool } {
  const format = params.response_format;
  if (!isJson(format)) return { params };
  // json_object: any JSON object, asked for as a tool whose input is any object.
  const spec: Json | undefined =
    format.type === 'json_schema' && isJson(format.json_schema)
      ? format.json_schema
      : format.type === 'json_object'
        ? { name: 'json', description: 'Give the answer as one JSON object.', schema: { type: 'object', additionalProperties: true } }
        : undefined;
  if (!spec) return { params };
  const name = typeof spec.name === 'string' && spec.name ? spec.name : 'answer';
  const schema = isJson(spec.schema) ? spec.schema : { type: 'object', properties: {} };
  const { response_format: _format, ...rest } = params;
  const own = Array.isArray(rest.tools) ? rest.tools : [];
  const description = typeof spec.description === 'string' ? spec.description : `Give the answer as ${name}.`;
  return {
    params: {
      ...rest,
      tools: [...own, { type: 'function', function: { name, description, parameters: schema } }],
      // Only the answer's tool may be called; with thinking on, Anthropic refuses a forced tool: the
      // model is then left to call it (an answer in plain text goes through the repairs).
      tool_choice: thinks(rest) ? 'auto' : { type: 'function', function: { name } },
    },
    tool: { name },
  };
}

/** Whether the call turns Anthropic's extended thinking on (an explicit `thinking`, or a `reasoning_effort` above minimal). */
function thinks(params: Json): boolean {
  if (isJson(params.thinking)) return params.thinking.type === 'enabled';
  return typeof params.reasoning_effort === 'string' && params.reasoning_effort !== 'none' && params.reasoning_effort !== 'minimal';
}

/** The completion with the forced tool's call moved into the message content as JSON text. */
export function structuredAnswer(completion: ChatCompletion, tool: StructuredTool): ChatCompletion {
  for (const choice of completion.choices) {
    const calls = choice.message.tool_calls ?? [];
    const call = calls.find((c) => c.type === 'function' && c.function.name === tool.name);
    if (!call || call.type !== 'function') continue;
    const others = calls.filter((c) => c !== call);
    choice.message.content = call.function.arguments;
    if (others.length > 0) choice.message.tool_calls = others;
    else delete choice.message.tool_calls;
    if (choice.finish_reason === 'tool_calls') choice.finish_reason = 'stop';
  }
  return completion;
}

/** A stream's chunks with the forced tool's argument fragments as content deltas. */
export async function* structuredChunks(chunks: AsyncIterable<ChatCompletionChunk>, tool: StructuredTool): AsyncGenerator<ChatCompletionChunk> {
  let index: number | undefined;
  for await (const chunk of chunks) {
    for (const choice of chunk.choices) {
      const calls = choice.delta.tool_calls;
      if (calls) {
        const mine = calls.find((c) => c.function?.name === tool.name || (index !== undefined && c.index === index));
        if (mine) {
          index ??= mine.index;
          const others = calls.filter((c) => c !== mine);
          if (others.length > 0) choice.delta.tool_calls = others;
          else delete choice.delta.tool_calls;
          if (mine.function?.arguments) choice.delta.content = (choice.delta.content ?? '') + mine.function.arguments;
        }
      }
      if (choice.finish_reason === 'tool_calls' && index !== undefined) choice.finish_reason = 'stop';
    }
    yield chunk;
  }
}
