import type { ServerResponse } from 'node:http';
import { countWords, FakeHttpServer, isObject, type Hang, type Mutate, type RecordedRequest, type SseFrame } from './fake-http-server.js';
import { fakeEmbedding } from './openai-fake-server.js';

export type { RecordedRequest, SseFrame } from './fake-http-server.js';

/**
 * A fake Gemini API (generativelanguage.googleapis.com) on 127.0.0.1 (random port), both halves the
 * providers use, under any API version path ({v}: v1beta, v1, v1alpha, ...):
 *
 *   native   POST /{v}/models/{model}:batchEmbedContents   key in `x-goog-api-key` (or `?key=`)
 *            {requests:[{model:'models/{model}', content:{parts:[{text}]}, taskType?, title?, outputDimensionality?}]}
 *            → {embeddings:[{values}]}; errors {error:{code, message, status, details?}}
 *            GET  /{v}/models → {models:[{name}]}
 *   openai   POST /{v}/openai/chat/completions              key as `Authorization: Bearer`
 *            OpenAI's chat completions (JSON and SSE, usage chunk on include_usage); errors are
 *            Google's, wrapped in a list: [{error:{code, message, status}}]
 *            GET  /{v}/openai/models → OpenAI's model list
 *
 * Vectors are `fakeEmbedding(text, dimensions)`. Every request is recorded; answers can be scripted.
 */

export interface GeminiFakeOptions {
  /** When set, every request must carry this key (400 API_KEY_INVALID otherwise, as Google answers). */
  apiKey?: string;
  /** Vector length when a request has no outputDimensionality; default 8 (the real gemini-embedding-001: 3072). */
  defaultDimensions?: number;
}

export const GEMINI_TASK_TYPES = [
  'TASK_TYPE_UNSPECIFIED',
  'RETRIEVAL_QUERY',
  'RETRIEVAL_DOCUMENT',
  'SEMANTIC_SIMILARITY',
  'CLASSIFICATION',
  'CLUSTERING',
  'QUESTION_ANSWERING',
  'FACT_VERIFICATION',
  'CODE_RETRIEVAL_QUERY',
];
const MAX_BATCH = 100;
const MAX_DIMENSIONS = 3072;

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const REQUEST_KEYS = new Set(['model', 'content', 'taskType', 'title', 'outputDimensionality']);
const CHAT_KEYS = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'temperature',
  'top_p',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'tools',
  'tool_choice',
  'response_format',
  'seed',
  'reasoning_effort',
  'presence_penalty',
  'frequency_penalty',
  'parallel_tool_calls',
  'user',
  'logprobs',
  'top_logprobs',
  'extra_body',
]);
const VERSION = 'v\\d+[a-z]*\\d*';
const EMBED_ROUTE = new RegExp(`^/${VERSION}/models/([^/:]+):batchEmbedContents$`);
const CHAT_ROUTE = new RegExp(`^/${VERSION}/openai/chat/completions$`);
const NATIVE_MODELS_ROUTE = new RegExp(`^/${VERSION}/models$`);
const COMPAT_MODELS_ROUTE = new RegExp(`^/${VERSION}/openai/models$`);
const COMPAT = new RegExp(`^/${VERSION}/openai/`);

/** Google's error object; the OpenAI-compatible endpoint sends it inside a one-element list. */
export function googleError(code: number, message: string, extra: Record<string, unknown> = {}): { error: Record<string, unknown> } {
  return { error: { code, message, status: STATUS_NAMES[code] ?? 'UNKNOWN', ...extra } };
}

const isCompat = (request: RecordedRequest) => COMPAT.test(request.pathname);

export class GeminiFakeServer extends FakeHttpServer {
  readonly #options: GeminiFakeOptions;

  private constructor(options: GeminiFakeOptions) {
    super();
    this.#options = options;
  }

  static start(options: GeminiFakeOptions = {}): Promise<GeminiFakeServer> {
    return this.listening(new GeminiFakeServer(options));
  }

  /** The API root, as both `gemini` types' `baseUrl` (and `@google/genai`) take it: no version path. */
  get baseUrl(): string {
    return this.origin;
  }

  /** The next `times` requests get `status` with Google's error body (in a list on the OpenAI-compatible route), and `headers`. */
  failNext(status: number, message = `Fake error ${status}`, options: { times?: number; headers?: Record<string, string>; details?: unknown[] } = {}): this {
    const error = googleError(status, message, options.details ? { details: options.details } : {});
    return this.enqueue(
      { kind: 'error', status, body: (request: RecordedRequest) => (isCompat(request) ? [error] : error), headers: options.headers },
      options.times ?? 1,
    );
  }

  protected route(request: RecordedRequest, res: ServerResponse, script: { hang?: Hang; mutate?: Mutate }): void {
    const compat = isCompat(request);
    const fail = (code: number, message: string, extra: Record<string, unknown> = {}) => {
      const error = googleError(code, message, extra);
      this.sendJson(res, request, code, compat ? [error] : error);
    };

    const key = compat
      ? (request.headers.authorization?.match(/^Bearer (.*)$/)?.[1] ?? undefined)
      : ((request.headers['x-goog-api-key'] as string | undefined) ?? request.query.get('key') ?? undefined);
    if (this.#options.apiKey !== undefined && key !== this.#options.apiKey) {
      if (key === undefined) {
        return fail(
          403,
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        );
      }
      return fail(400, 'API key not valid. Please pass a valid API key.', {
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'API_KEY_INVALID',
            domain: 'googleapis.com',
            metadata: { service: 'generativelanguage.googleapis.com' },
          },
        ],
      });
    }
    if (request.method === 'GET' && NATIVE_MODELS_ROUTE.test(request.pathname)) {
      return this.answerJson(res, request, { models: [{ name: 'models/gemini-embedding-001' }, { name: 'models/gemini-2.5-flash' }] }, script);
    }
    if (request.method === 'GET' && COMPAT_MODELS_ROUTE.test(request.pathname)) {
      const data = ['gemini-embedding-001', 'gemini-2.5-flash'].map((id) => ({ id: `models/${id}`, object: 'model', owned_by: 'google' }));
      return this.answerJson(res, request, { object: 'list', data }, script);
    }
    if (request.method !== 'POST') return fail(404, `Method not found.`);
    if (request.invalidJson) return fail(400, 'Invalid JSON payload received. Unexpected token.');

    const embed = EMBED_ROUTE.exec(request.pathname);
    if (embed) return this.#embed(decodeURIComponent(embed[1]!), request, res, script, fail);
    if (CHAT_ROUTE.test(request.pathname)) return this.#chat(request, res, script, fail);
    return fail(404, `The requested URL ${request.pathname} was not found on this server.`);
  }

  #embed(
    model: string,
    request: RecordedRequest,
    res: ServerResponse,
    script: { hang?: Hang; mutate?: Mutate },
    fail: (code: number, message: string) => void,
  ): void {
    const body = request.body;
    if (!isObject(body)) return fail(400, 'Invalid JSON payload received. Expected an object.');
    for (const k of Object.keys(body)) if (k !== 'requests') return fail(400, `Invalid JSON payload received. Unknown name "${k}": Cannot find field.`);
    const requests = body.requests;
    if (!Array.isArray(requests) || requests.length === 0) return fail(400, '* BatchEmbedContentsRequest.requests: requests is not specified');
    if (requests.length > MAX_BATCH) return fail(400, `* BatchEmbedContentsRequest.requests: at most ${MAX_BATCH} requests can be in one batch`);
    const vectors: number[][] = [];
    for (const [i, r] of requests.entries()) {
      const at = `requests[${i}]`;
      if (!isObject(r)) return fail(400, `Invalid value at '${at}': expected an object`);
      for (const k of Object.keys(r))
        if (!REQUEST_KEYS.has(k)) return fail(400, `Invalid JSON payload received. Unknown name "${k}" at '${at}': Cannot find field.`);
      if (r.model !== `models/${model}`) {
        return fail(
          400,
          `* BatchEmbedContentsRequest.${at}.model: the model in the request (${String(r.model)}) does not match the model in the URL (models/${model})`,
        );
      }
      const parts = r.content?.parts;
      const text = Array.isArray(parts) ? parts.map((p: any) => (typeof p?.text === 'string' ? p.text : '')).join('') : '';
      if (!text) return fail(400, `* BatchEmbedContentsRequest.${at}.content: contents is not specified`);
      if (r.taskType !== undefined && !GEMINI_TASK_TYPES.includes(r.taskType)) {
        return fail(400, `Invalid value at '${at}.task_type' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), "${String(r.taskType)}"`);
      }
      const dims = r.outputDimensionality ?? this.#options.defaultDimensions ?? 8;
      if (!Number.isInteger(dims) || dims < 1 || dims > MAX_DIMENSIONS) {
        return fail(400, `* BatchEmbedContentsRequest.${at}.output_dimensionality: must be between 1 and ${MAX_DIMENSIONS}`);
      }
      vectors.push(fakeEmbedding(text, dims));
    }
    this.answerJson(res, request, { embeddings: vectors.map((values) => ({ values })) }, script);
  }

  #chat(request: RecordedRequest, res: ServerResponse, script: { hang?: Hang; mutate?: Mutate }, fail: (code: number, message: string) => void): void {
    const body = request.body;
    if (!isObject(body)) return fail(400, 'Invalid JSON payload received. Expected an object.');
    for (const k of Object.keys(body)) if (!CHAT_KEYS.has(k)) return fail(400, `Invalid JSON payload received. Unknown name "${k}": Cannot find field.`);
    if (typeof body.model !== 'string' || !body.model) return fail(400, 'model is not specified');
    if (!Array.isArray(body.messages) || body.messages.length === 0) return fail(400, 'messages is not specified');
    const lastUser = [...body.messages].reverse().find((m: any) => m?.role === 'user');
    const words = `echo: ${typeof lastUser?.content === 'string' ? lastUser.content : ''}`.split(/\s+/).filter(Boolean);
    const promptTokens = body.messages.reduce((n: number, m: any) => n + (typeof m?.content === 'string' ? countWords(m.content) : 0), 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: words.length, total_tokens: promptTokens + words.length };
    const id = `gemini-fake-${request.seq}`;
    const created = 1_700_000_000 + request.seq;

    if (body.stream !== true) {
      const answer = {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: words.join(' ') }, finish_reason: 'stop' }],
        usage,
      };
      return this.answerJson(res, request, answer, script);
    }
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      choices,
      ...extra,
    });
    const frames: SseFrame[] = [
      ...words.map((word, i) => chunk([{ index: 0, delta: { role: 'assistant', content: i === 0 ? word : ` ${word}` } }])),
      chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]),
      ...(body.stream_options?.include_usage === true ? [chunk([], { usage })] : []),
    ].map((c) => ({ data: JSON.stringify(c) }));
    frames.push({ data: '[DONE]' });
    this.answerSse(res, request, frames, script);
  }
}
