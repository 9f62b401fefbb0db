import type { ServerResponse } from 'node:http';
import { countWords, FakeHttpServer, isObject, type Hang, type Mutate, type RecordedRequest, type SseFrame } from './fake-http-server.js';

export type { RecordedRequest, SseFrame } from './fake-http-server.js';

/**
 * A fake Anthropic Messages API on 127.0.0.1 (random port): `POST /v1/messages` with `x-api-key` and
 * `anthropic-version`, JSON answers and SSE streams (message_start, content_block_start/delta/stop,
 * ping, message_delta, message_stop), errors as `{type:'error', error:{type, message}}` with a
 * `request-id` header.
 *
 * It replies "echo: <last user text>" (cut to max_tokens words, or at a stop sequence), or calls a
 * tool when tool_choice asks for one, or answers what `replyNext` scripted.
 *
 * It validates like the API, and is stricter in one way: consecutive turns of one role (which the
 * API would combine) are refused, so a test sees that the driver merged them itself.
 */

export interface AnthropicFakeOptions {
  /** When set, every request must carry `x-api-key: <apiKey>` (401 authentication_error otherwise). */
  apiKey?: string;
}

export type ScriptedBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id?: string; name: string; input: Record<string, unknown> }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

export interface ScriptedReply {
  content: ScriptedBlock[];
  stopReason?: string;
  usage?: Record<string, number>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const BODY_KEYS = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'temperature',
  'top_p',
  'top_k',
  'stop_sequences',
  'stream',
  'tools',
  'tool_choice',
  'metadata',
  'thinking',
  'service_tier',
  'container',
  'mcp_servers',
  'context_management',
]);
const BLOCK_TYPES = new Set(['text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking']);
const TOOL_KEYS = new Set(['name', 'description', 'input_schema', 'cache_control', 'type']);

/** Anthropic's error body. */
export function anthropicError(type: string, message: string, requestId = 'req_fake_error'): unknown {
  return { type: 'error', error: { type, message }, request_id: requestId };
}

export class AnthropicFakeServer extends FakeHttpServer {
  readonly #options: AnthropicFakeOptions;
  readonly #replies: ScriptedReply[] = [];

  private constructor(options: AnthropicFakeOptions) {
    super();
    this.#options = options;
  }

  static start(options: AnthropicFakeOptions = {}): Promise<AnthropicFakeServer> {
    return this.listening(new AnthropicFakeServer(options));
  }

  /** The API root, as `baseUrl` takes it (like `https://api.anthropic.com`: no `/v1`). */
  get baseUrl(): string {
    return this.origin;
  }

  /** The next answer (plain or streamed) has this content and stop reason. */
  replyNext(reply: ScriptedReply): this {
    this.#replies.push(reply);
    return this;
  }

  /** The next `times` requests get `status` with Anthropic's error body (type from the status unless given). */
  failNext(status: number, error: { type?: string; message?: string } = {}, options: { times?: number; headers?: Record<string, string> } = {}): this {
    const type = error.type ?? ERROR_TYPES[status] ?? 'api_error';
    return this.enqueue({ kind: 'error', status, body: anthropicError(type, error.message ?? `Fake ${type}`), headers: options.headers }, options.times ?? 1);
  }

  /** The next stream sends `afterEvents` events, then an `error` event (overloaded by default), then ends. */
  streamErrorNext(afterEvents: number, error: { type: string; message: string } = { type: 'overloaded_error', message: 'Overloaded' }): this {
    return this.enqueue({
      kind: 'mutate',
      events: (frames) => [...frames.slice(0, afterEvents), { event: 'error', data: JSON.stringify({ type: 'error', error }) }],
    });
  }

  override reset(): void {
    super.reset();
    this.#replies.length = 0;
  }

  protected override answerHeaders(request: RecordedRequest): Record<string, string> {
    return { 'request-id': `req_fake${request.seq}` };
  }

  protected route(request: RecordedRequest, res: ServerResponse, script: { hang?: Hang; mutate?: Mutate }): void {
    const fail = (status: number, message: string, type = ERROR_TYPES[status]!) =>
      this.sendJson(res, request, status, anthropicError(type, message, `req_fake${request.seq}`));
    const route = `${request.method} ${request.pathname}`;
    if (route !== 'POST /v1/messages' && route !== 'GET /v1/models') return fail(404, 'Not Found');

    const key = request.headers['x-api-key'];
    if (this.#options.apiKey !== undefined && key !== this.#options.apiKey) {
      return fail(401, key ? 'invalid x-api-key' : 'x-api-key header is required');
    }
    if (!request.headers['anthropic-version']) return fail(400, 'anthropic-version: header is required');
    if (route === 'GET /v1/models') {
      return this.sendJson(res, request, 200, {
        data: [{ type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5' }],
        has_more: false,
        first_id: 'claude-sonnet-4-5',
        last_id: 'claude-sonnet-4-5',
      });
    }
    if (request.headers.authorization) return fail(400, 'Authorization header is not accepted with x-api-key');
    if (!isObject(request.body)) return fail(400, 'There was an error parsing the body of your request: expected a JSON object.');

    const problem = validate(request.body);
    if (problem) return fail(400, problem);

    const body = request.body;
    const reply = this.#replies.shift() ?? defaultReply(body);
    const seq = request.seq;
    const id = `msg_fake${seq}`;
    const content = reply.content.map((block, i) => (block.type === 'tool_use' ? { ...block, id: block.id ?? `toolu_fake${seq}_${i}` } : block));
    const outputTokens = content.reduce((n, b) => n + (b.type === 'text' ? countWords(b.text) : b.type === 'thinking' ? countWords(b.thinking) : 8), 0);
    const stopSequence = reply.stopReason === 'stop_sequence' ? (body.stop_sequences?.[0] ?? null) : null;
    const usage = {
      input_tokens: inputWords(body),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: outputTokens,
      service_tier: 'standard',
      ...reply.usage,
    };
    const stopReason = reply.stopReason ?? 'end_turn';

    if (body.stream !== true) {
      const answer = { id, type: 'message', role: 'assistant', model: body.model, content, stop_reason: stopReason, stop_sequence: stopSequence, usage };
      return this.answerJson(res, request, answer, script);
    }

    const frame = (type: string, data: Record<string, unknown>): SseFrame => ({ event: type, data: JSON.stringify({ type, ...data }) });
    const frames: SseFrame[] = [
      frame('message_start', {
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      }),
    ];
    content.forEach((block, index) => {
      if (block.type === 'text') {
        frames.push(frame('content_block_start', { index, content_block: { type: 'text', text: '' } }));
        if (index === 0) frames.push(frame('ping', {}));
        block.text.split(/(?= )/).forEach((piece) => frames.push(frame('content_block_delta', { index, delta: { type: 'text_delta', text: piece } })));
      } else if (block.type === 'thinking') {
        // As the API does: the thought in pieces, then its signature in one signature_delta.
        frames.push(frame('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
        block.thinking
          .split(/(?= )/)
          .forEach((piece) => frames.push(frame('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: piece } })));
        frames.push(frame('content_block_delta', { index, delta: { type: 'signature_delta', signature: block.signature } }));
      } else if (block.type === 'redacted_thinking') {
        frames.push(frame('content_block_start', { index, content_block: { type: 'redacted_thinking', data: block.data } }));
      } else {
        frames.push(frame('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } }));
        if (index === 0) frames.push(frame('ping', {}));
        // As the API does: an empty fragment first, then the JSON in pieces.
        const json = JSON.stringify(block.input);
        const cut = Math.ceil(json.length / 2);
        for (const piece of ['', json.slice(0, cut), json.slice(cut)]) {
          frames.push(frame('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }));
        }
      }
      frames.push(frame('content_block_stop', { index }));
    });
    frames.push(frame('message_delta', { delta: { stop_reason: stopReason, stop_sequence: stopSequence }, usage: { output_tokens: outputTokens } }));
    frames.push(frame('message_stop', {}));
    this.answerSse(res, request, frames, script);
  }
}

/** "echo: <last user text>" (max_tokens words at most, cut at a stop sequence), or a tool call when tool_choice demands one. */
function defaultReply(body: any): ScriptedReply {
  const last = [...body.messages].reverse().find((m: any) => m.role === 'user');
  const lastText = textOf(last?.content);
  const choice = body.tool_choice;
  if (Array.isArray(body.tools) && (choice?.type === 'any' || choice?.type === 'tool')) {
    const name = choice.type === 'tool' ? choice.name : body.tools[0].name;
    return { content: [{ type: 'tool_use', name, input: { query: lastText } }], stopReason: 'tool_use' };
  }
  let text = `echo: ${lastText}`;
  for (const stop of body.stop_sequences ?? []) {
    const at = text.indexOf(stop);
    if (at >= 0) return { content: [{ type: 'text', text: text.slice(0, at) }], stopReason: 'stop_sequence' };
  }
  const words = text.split(' ');
  if (words.length > body.max_tokens) {
    text = words.slice(0, body.max_tokens).join(' ');
    return { content: [{ type: 'text', text }], stopReason: 'max_tokens' };
  }
  return { content: [{ type: 'text', text }], stopReason: 'end_turn' };
}

/** The text of a turn's content: a string, or its text blocks and tool results. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b: any) => (b?.type === 'text' ? b.text : b?.type === 'tool_result' ? textOf(b.content) : ''))
    .filter(Boolean)
    .join(' ');
}

function inputWords(body: any): number {
  const system = typeof body.system === 'string' ? body.system : textOf(body.system);
  return countWords(system) + body.messages.reduce((n: number, m: any) => n + countWords(textOf(m.content)), 0);
}

/** `cache_control` where a block carries one: `{type: 'ephemeral', ttl?: '5m' | '1h'}`. */
function cacheControlProblem(block: Record<string, unknown>, where: string): string | undefined {
  const cache = block.cache_control;
  if (cache === undefined) return undefined;
  if (!isObject(cache) || cache.type !== 'ephemeral') return `${where}.cache_control.type: Input should be 'ephemeral'`;
  for (const key of Object.keys(cache)) if (key !== 'type' && key !== 'ttl') return `${where}.cache_control.${key}: Extra inputs are not permitted`;
  if (cache.ttl !== undefined && cache.ttl !== '5m' && cache.ttl !== '1h') return `${where}.cache_control.ttl: Input should be '5m' or '1h'`;
  return undefined;
}

/** The API's validation, in its words where they are known; undefined when the body is fine. */
function validate(body: any): string | undefined {
  for (const key of Object.keys(body)) if (!BODY_KEYS.has(key)) return `${key}: Extra inputs are not permitted`;
  if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
  if (body.max_tokens === undefined) return 'max_tokens: Field required';
  if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return 'max_tokens: Input should be greater than or equal to 1';
  if (!Array.isArray(body.messages)) return 'messages: Field required';
  if (body.messages.length === 0) return 'messages: at least one message is required';
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) return 'system: Input should be a valid string';
  if (Array.isArray(body.system)) {
    for (const [b, block] of body.system.entries()) {
      if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string' || block.text === '')
        return `system.${b}: text content blocks must be non-empty`;
      const problem = cacheControlProblem(block, `system.${b}`);
      if (problem) return problem;
    }
  }
  if (body.thinking !== undefined) {
    const thinking = body.thinking;
    if (!isObject(thinking) || !['enabled', 'disabled'].includes(thinking.type as string))
      return "thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled'";
    if (thinking.type === 'enabled') {
      if (!Number.isInteger(thinking.budget_tokens) || (thinking.budget_tokens as number) < 1024)
        return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
      if ((thinking.budget_tokens as number) >= body.max_tokens) return '`max_tokens` must be greater than `thinking.budget_tokens`.';
    }
  }
  if (body.temperature !== undefined && !(typeof body.temperature === 'number' && body.temperature >= 0 && body.temperature <= 1)) {
    return 'temperature: Input should be less than or equal to 1';
  }
  if (body.stop_sequences !== undefined && !(Array.isArray(body.stop_sequences) && body.stop_sequences.every((s: unknown) => typeof s === 'string'))) {
    return 'stop_sequences: Input should be a valid list';
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') return 'stream: Input should be a valid boolean';
  if (body.metadata !== undefined && !(isObject(body.metadata) && Object.keys(body.metadata).every((k) => k === 'user_id'))) {
    return 'metadata: Extra inputs are not permitted';
  }

  const toolNames = new Set<string>();
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return 'tools: Input should be a valid list';
    for (const [t, tool] of body.tools.entries()) {
      if (!isObject(tool)) return `tools.${t}: Input should be a valid dictionary`;
      for (const key of Object.keys(tool)) if (!TOOL_KEYS.has(key)) return `tools.${t}.${key}: Extra inputs are not permitted`;
      if (typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(tool.name))
        return `tools.${t}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
      if (!isObject(tool.input_schema) || tool.input_schema.type !== 'object') return `tools.${t}.input_schema.type: Input should be 'object'`;
      toolNames.add(tool.name);
    }
  }
  if (body.tool_choice !== undefined) {
    const choice = body.tool_choice;
    if (!isObject(choice) || !['auto', 'any', 'tool', 'none'].includes(choice.type))
      return "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'";
    if (choice.type === 'tool' && !toolNames.has(choice.name)) return `tool_choice.name: tool "${String(choice.name)}" is not among tools`;
    if (choice.type !== 'none' && choice.type !== 'auto' && toolNames.size === 0) return 'tool_choice: may only be specified while providing tools';
  }

  let pendingToolUses: string[] = [];
  for (const [i, message] of body.messages.entries()) {
    if (!isObject(message)) return `messages.${i}: Input should be a valid dictionary`;
    if (message.role !== 'user' && message.role !== 'assistant') {
      return message.role === 'system'
        ? 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.'
        : `messages.${i}.role: Input should be 'user' or 'assistant'`;
    }
    if (i > 0 && body.messages[i - 1].role === message.role) return `messages.${i}: consecutive ${message.role} turns (this fake wants them merged)`;
    const content = message.content;
    const blocks: any[] = typeof content === 'string' ? [{ type: 'text', text: content }] : Array.isArray(content) ? content : [];
    if (blocks.length === 0 || (typeof content === 'string' && content === '')) {
      return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    }
    const toolResults: string[] = [];
    let seenOther = false;
    for (const [b, block] of blocks.entries()) {
      if (!isObject(block) || !BLOCK_TYPES.has(block.type))
        return `messages.${i}.content.${b}: Input tag '${String(block?.type)}' found using 'type' does not match any of the expected tags`;
      if (block.type === 'text' && (typeof block.text !== 'string' || block.text === '')) return 'messages: text content blocks must be non-empty';
      const cacheProblem = cacheControlProblem(block, `messages.${i}.content.${b}`);
      if (cacheProblem) return cacheProblem;
      if (block.type === 'thinking' || block.type === 'redacted_thinking') {
        if (message.role !== 'assistant') return `messages.${i}.content.${b}: thinking blocks are only allowed in assistant messages`;
        if (block.type === 'thinking' && (typeof block.signature !== 'string' || block.signature === ''))
          return `messages.${i}.content.${b}.thinking.signature: Field required`;
      }
      if (block.type === 'tool_use') {
        if (message.role !== 'assistant') return `messages.${i}.content.${b}: tool_use blocks are only allowed in assistant messages`;
        if (typeof block.id !== 'string' || typeof block.name !== 'string' || !isObject(block.input))
          return `messages.${i}.content.${b}.input: Input should be a valid dictionary`;
      }
      if (block.type === 'tool_result') {
        if (message.role !== 'user') return `messages.${i}.content.${b}: tool_result blocks are only allowed in user messages`;
        if (seenOther) return `messages.${i}: tool_result blocks must come first in the content array, before any other blocks`;
        toolResults.push(block.tool_use_id);
      } else {
        seenOther = true;
      }
      if (block.type === 'image' && !(isObject(block.source) && ['base64', 'url'].includes(block.source.type)))
        return `messages.${i}.content.${b}.source: Input should be a valid dictionary`;
    }
    if (message.role === 'user') {
      const unknown = toolResults.filter((id) => !pendingToolUses.includes(id));
      if (unknown.length) {
        return `messages.${i}.content.0: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unknown.join(', ')}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      }
      const missing = pendingToolUses.filter((id) => !toolResults.includes(id));
      if (missing.length) {
        return `messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      }
      pendingToolUses = [];
    } else {
      pendingToolUses = blocks.filter((b) => b.type === 'tool_use').map((b) => b.id);
    }
  }
  return undefined;
}
