/**
 * Reasoning text in OpenAI shapes. vLLM, DeepSeek and LiteLLM put it in `reasoning_content` on the
 * message and on stream deltas; newer vLLM, Ollama and OpenRouter call it `reasoning`. Callers get
 * one name: `reasoning_content`.
 */

type Json = Record<string, unknown>;

const isJson = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Renames a string `reasoning` to `reasoning_content` in place (a `reasoning_content` already there wins). */
export function normalizeReasoning(target: Json): void {
  if (typeof target.reasoning !== 'string') return;
  if (typeof target.reasoning_content !== 'string') target.reasoning_content = target.reasoning;
  delete target.reasoning;
}

/** Each choice's `message` of a completion. */
export function normalizeCompletionReasoning(completion: Json): void {
  for (const choice of completion.choices as unknown[]) {
    if (isJson(choice) && isJson(choice.message)) normalizeReasoning(choice.message);
  }
}

/** Each choice's `delta` of a stream chunk. */
export function normalizeChunkReasoning(chunk: Json): void {
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return;
  for (const choice of choices) {
    if (isJson(choice) && isJson(choice.delta) && choice.delta.reasoning !== undefined) normalizeReasoning(choice.delta);
  }
}
