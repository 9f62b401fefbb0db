/**
 * Gemini's OpenAI-compatible endpoint returns thought summaries (asked for with
 * `extra_body: { google: { thinking_config: { include_thoughts: true } } }`) inside the content,
 * between `<thought>` and `</thought>` at its start. They come out as `reasoning_content`, as the
 * other types return reasoning.
 */

type Json = Record<string, unknown>;

const OPEN = '<thought>';
const CLOSE = '</thought>';

const isJson = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A leading `<thought>…</thought>` of a message's content moved to `reasoning_content`, in place. */
export function splitMessageThought(message: Json): void {
  const content = message.content;
  if (typeof content !== 'string' || !content.startsWith(OPEN)) return;
  const end = content.indexOf(CLOSE, OPEN.length);
  if (end < 0) return;
  const thought = content.slice(OPEN.length, end);
  if (typeof message.reasoning_content !== 'string') message.reasoning_content = thought;
  message.content = content.slice(end + CLOSE.length);
}

/** The length of the longest end of `text` that begins `tag`: what may be the start of a tag cut by the chunking. */
function partialTagAtEnd(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) if (tag.startsWith(text.slice(-n))) return n;
  return 0;
}

/** One choice's content across chunks: a leading thought goes to reasoning, even with its tags cut across chunks. */
class ThoughtSplitter {
  #state: 'start' | 'thought' | 'text' = 'start';
  #held = '';

  push(text: string): { reasoning: string; content: string } {
    let input = this.#held + text;
    this.#held = '';
    let reasoning = '';
    if (this.#state === 'start') {
      if (input.startsWith(OPEN)) {
        this.#state = 'thought';
        input = input.slice(OPEN.length);
      } else if (OPEN.startsWith(input)) {
        this.#held = input;
        return { reasoning, content: '' };
      } else {
        this.#state = 'text';
      }
    }
    if (this.#state === 'thought') {
      const end = input.indexOf(CLOSE);
      if (end < 0) {
        const keep = partialTagAtEnd(input, CLOSE);
        this.#held = input.slice(input.length - keep);
        return { reasoning: input.slice(0, input.length - keep), content: '' };
      }
      reasoning = input.slice(0, end);
      input = input.slice(end + CLOSE.length);
      this.#state = 'text';
    }
    return { reasoning, content: input };
  }

  /** What was held back when the choice ends: a cut tag that never completed is text after all. */
  flush(): { reasoning: string; content: string } {
    const held = this.#held;
    this.#held = '';
    return this.#state === 'thought' ? { reasoning: held, content: '' } : { reasoning: '', content: held };
  }
}

/** Splits the thoughts out of a stream's chunks, in place, one splitter per choice index. */
export class StreamThoughtSplitter {
  readonly #choices = new Map<number, ThoughtSplitter>();

  push(chunk: Json): void {
    if (!Array.isArray(chunk.choices)) return;
    for (const choice of chunk.choices) {
      if (!isJson(choice) || !isJson(choice.delta)) continue;
      const delta = choice.delta;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      let splitter = this.#choices.get(index);
      if (!splitter) this.#choices.set(index, (splitter = new ThoughtSplitter()));
      let out = typeof delta.content === 'string' && delta.content ? splitter.push(delta.content) : { reasoning: '', content: '' };
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        const rest = splitter.flush();
        out = { reasoning: out.reasoning + rest.reasoning, content: out.content + rest.content };
      }
      if (typeof delta.content === 'string' && delta.content) {
        if (out.content) delta.content = out.content;
        else delete delta.content;
      } else if (out.content) {
        delta.content = out.content;
      }
      if (out.reasoning) delta.reasoning_content = typeof delta.reasoning_content === 'string' ? delta.reasoning_content + out.reasoning : out.reasoning;
    }
  }
}
