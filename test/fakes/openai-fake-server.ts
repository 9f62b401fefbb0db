import type { ServerResponse } from 'node:http';
import {
  countWords,
  encodeFloat32,
  fnv1a,
  isObject,
  mulberry32,
  ScriptedFakeServer,
  type AnswerScript,
  type Delay,
  type RecordedRequest,
  type SseFrame,
} from './fake-http-server.js';

export type { RecordedRequest } from './fake-http-server.js';
export { encodeFloat32 } from './fake-http-server.js';

/**
 * A fake OpenAI API on 127.0.0.1 (random port) speaking OpenAI's wire format: chat completions
 * (JSON and SSE), embeddings (float and base64), models. It records every request and can be
 * scripted per test: errors, delays, raw bodies, streams that hang, requests that hang forever.
 */

/** An OpenAI error body, as `{error: {message, type, param, code}}`. */
export interface FakeErrorBody {
  message: string;
  type?: string;
  param?: string | null;
  code?: string | null;
}

/** What the server does with one request, in place of its normal answer. */
export type FakeBehaviour =
  /** Answer `status` with an OpenAI error body (or `body` as raw text) and extra headers. */
  | { kind: 'error'; status: number; error?: FakeErrorBody; body?: string; headers?: Record<string, string> }
  /** Answer `status` with this exact body and content type (malformed JSON, HTML pages, ...). */
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Wait, then answer normally. */
  | Delay
  /** Never answer. `afterHeaders`: send 200 headers (non-streaming) first. For streams, `afterChunks` SSE chunks first. */
  | { kind: 'hang'; afterHeaders?: boolean; afterChunks?: number }
  /** Answer normally, but pass the JSON answer (non-streaming) or the list of SSE data lines (streaming) through `fn` first. */
  | { kind: 'mutate'; json?: (answer: any) => any; sse?: (lines: string[]) => string[] };

export interface FakeServerOptions {
  /** When set, every request must carry `Authorization: Bearer <apiKey>`, else 401 like OpenAI's. */
  apiKey?: string;
  /** Models listed by GET /v1/models. */
  models?: string[];
  /** Vector length when the request has no `dimensions`; default 8. */
  defaultDimensions?: number;
  /**
   * Azure OpenAI instead of OpenAI: routes under `/openai/deployments/<deployment>` (another
   * deployment: 404 DeploymentNotFound), the key in `api-key` (401 in Azure's words otherwise), and
   * `?api-version=<apiVersion>` required (404 Resource not found otherwise). Unset: OpenAI as before.
   */
  azure?: {
    deployment: string;
    apiVersion: string;
    /** A Microsoft Entra ID token taken as `Authorization: Bearer` instead of the key. */ entraToken?: string;
  };
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const MAX_EMBEDDING_INPUTS = 2048;

export class OpenAIFakeServer extends ScriptedFakeServer<FakeBehaviour> {
  /** Answer every embeddings request with float arrays, whatever `encoding_format` asked (old servers do). */
  ignoreEncodingFormat = false;

  readonly #options: FakeServerOptions;

  private constructor(options: FakeServerOptions) {
    super(MAX_BODY_BYTES);
    this.#options = options;
  }

  static start(options: FakeServerOptions = {}): Promise<OpenAIFakeServer> {
    return this.listening(new OpenAIFakeServer(options));
  }

  /** The API root, as `baseUrl` takes it: `http://127.0.0.1:<port>/v1`. */
  get baseUrl(): string {
    return `${this.origin}/v1`;
  }

  /** Azure mode: the resource endpoint, as `endpoint` takes it: `http://127.0.0.1:<port>`. */
  get endpoint(): string {
    return this.origin;
  }

  /** The next `times` requests get `status` with an OpenAI error body (and `headers`, e.g. retry-after). */
  failNext(status: number, error: Partial<FakeErrorBody> = {}, options: { times?: number; headers?: Record<string, string> } = {}): this {
    const body: FakeErrorBody = {
      message: error.message ?? `Fake error ${status}`,
      type: error.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: error.param ?? null,
      code: error.code ?? null,
    };
    return this.enqueue({ kind: 'error', status, error: body, headers: options.headers }, options.times ?? 1);
  }

  /** The next request is never answered (until the client gives up or the server closes). */
  hangNext(options: { afterHeaders?: boolean; afterChunks?: number } = {}): this {
    return this.enqueue({ kind: 'hang', ...options });
  }

  override reset(): void {
    super.reset();
    this.ignoreEncodingFormat = false;
  }

  /** Resolves once the client has closed the connection of request `seq` (default: the last one) before its end. */
  waitForClientAbort(seq?: number, timeoutMs = 2000): Promise<void> {
    return this.waitForAbortOf(seq, timeoutMs);
  }

  protected override answerHeaders(request: RecordedRequest): Record<string, string> {
    return { 'x-request-id': `req_fake${request.seq}` };
  }

  protected override bodyTooLarge(res: ServerResponse, request: RecordedRequest): void {
    this.#sendError(res, request, 413, { message: 'Request body too large.', type: 'invalid_request_error' });
  }

  protected respond(request: RecordedRequest, res: ServerResponse, behaviour: FakeBehaviour | undefined): void {
    if (behaviour?.kind === 'error') {
      if (behaviour.body !== undefined) return this.sendRaw(res, request, behaviour.status, behaviour.body, 'application/json', behaviour.headers);
      return this.#sendError(res, request, behaviour.status, behaviour.error ?? { message: `Fake error ${behaviour.status}` }, behaviour.headers);
    }
    if (behaviour?.kind === 'raw') {
      return this.sendRaw(res, request, behaviour.status, behaviour.body, behaviour.contentType ?? 'application/json', behaviour.headers);
    }
    const fail = (status: number, error: FakeErrorBody) => this.#sendError(res, request, status, error);

    const azure = this.#options.azure;
    const entra = azure?.entraToken !== undefined && request.headers.authorization === `Bearer ${azure.entraToken}`;
    if (azure && this.#options.apiKey !== undefined && request.headers['api-key'] !== this.#options.apiKey && !entra) {
      // Azure's words; it never echoes the key.
      return this.sendJson(res, request, 401, {
        error: {
          code: '401',
          message:
            'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        },
      });
    }
    if (!azure && this.#options.apiKey !== undefined) {
      const auth = request.headers.authorization;
      if (auth !== `Bearer ${this.#options.apiKey}`) {
        const given = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
        // Like OpenAI's: the start and end of the key that was sent, the middle masked.
        const message = given
          ? `Incorrect API key provided: ${maskKey(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`
          : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
        return fail(401, { message, type: 'invalid_request_error', param: null, code: given ? 'invalid_api_key' : null });
      }
    }

    if (request.invalidJson) {
      return fail(400, {
        message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
        type: 'invalid_request_error',
      });
    }

    let route = `${request.method} ${request.pathname}`;
    if (azure) {
      const match = /^\/openai\/deployments\/([^/]+)(\/.*)$/.exec(request.pathname);
      if (request.query.get('api-version') !== azure.apiVersion || !match) {
        return this.sendJson(res, request, 404, { error: { code: '404', message: 'Resource not found' } });
      }
      if (decodeURIComponent(match[1]!) !== azure.deployment) {
        return this.sendJson(res, request, 404, {
          error: {
            code: 'DeploymentNotFound',
            message:
              'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
          },
        });
      }
      // The rest is OpenAI's API, under the deployment.
      route = `${request.method} /v1${match[2]}`;
    }
    // OpenAI's scripts in the shared terms: SSE chunks are events with data only.
    const hang = behaviour?.kind === 'hang' ? { afterHeaders: behaviour.afterHeaders, afterEvents: behaviour.afterChunks } : undefined;
    const sse = behaviour?.kind === 'mutate' ? behaviour.sse : undefined;
    const script: AnswerScript = {
      hang,
      mutate:
        behaviour?.kind === 'mutate'
          ? { json: behaviour.json, events: sse && ((frames) => sse(frames.map((f) => f.data)).map((data) => ({ data }))) }
          : undefined,
    };
    switch (route) {
      case 'POST /v1/chat/completions':
        return this.#chat(request, res, script, fail);
      case 'POST /v1/embeddings':
        return this.#embeddings(request, res, script, fail);
      case 'GET /v1/models':
        return this.answerJson(
          res,
          request,
          {
            object: 'list',
            data: (this.#options.models ?? ['gpt-4o-mini', 'text-embedding-3-small']).map((id) => ({
              id,
              object: 'model',
              created: 1_700_000_000,
              owned_by: 'fake',
            })),
          },
          { hang },
        );
      default:
        return fail(404, { message: `Invalid URL (${request.method} ${request.path})`, type: 'invalid_request_error' });
    }
  }

  #sendError(res: ServerResponse, request: RecordedRequest, status: number, error: FakeErrorBody, headers?: Record<string, string>): void {
    this.sendJson(
      res,
      request,
      status,
      { error: { message: error.message, type: error.type ?? 'invalid_request_error', param: error.param ?? null, code: error.code ?? null } },
      headers,
    );
  }

  #chat(request: RecordedRequest, res: ServerResponse, script: AnswerScript, fail: (status: number, error: FakeErrorBody) => void): void {
    const body = request.body;
    if (!isObject(body) || typeof body.model !== 'string' || body.model === '') {
      return fail(400, { message: 'you must provide a model parameter', type: 'invalid_request_error' });
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return fail(400, {
        message: "Missing required parameter: 'messages'.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'missing_required_parameter',
      });
    }
    if (body.stream_options !== undefined && body.stream_options !== null && body.stream !== true) {
      return fail(400, {
        message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        type: 'invalid_request_error',
        param: 'stream_options',
        code: null,
      });
    }
    const seq = request.seq;
    const id = `chatcmpl-fake${seq}`;
    const created = 1_700_000_000 + seq;
    const { words, finishReason } = replyWords(body);
    const promptTokens = body.messages.reduce((n: number, m: any) => n + countWords(textOf(m?.content)), 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: words.length, total_tokens: promptTokens + words.length };
    // Azure adds its content filter's verdicts: on the prompt (prompt_filter_results) and on each choice.
    const azure = this.#options.azure !== undefined;

    if (body.stream !== true) {
      const answer = {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: words.join(' '), refusal: null, annotations: [] },
            logprobs: null,
            finish_reason: finishReason,
            ...(azure ? { content_filter_results: AZURE_SAFE } : {}),
          },
        ],
        ...(azure ? { prompt_filter_results: AZURE_PROMPT_FILTER } : {}),
        usage: {
          ...usage,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        },
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
      };
      return this.answerJson(res, request, answer, script);
    }

    // Streaming, as OpenAI does it: a role chunk, one chunk per piece of content, a finish chunk,
    // then (include_usage) a chunk with empty choices and the usage; every other chunk has usage: null.
    // Azure first sends the prompt's filter verdicts in a chunk of its own, with empty id, object and
    // model and no choices, and puts content_filter_results on each choice (empty on the role and
    // finish chunks).
    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      service_tier: 'default',
      system_fingerprint: 'fp_fake',
      choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    });
    const filtered = (verdict: Record<string, unknown>) => (azure ? { content_filter_results: verdict } : {});
    const chunks: unknown[] = [
      ...(azure ? [azurePromptFilterChunk()] : []),
      chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null, ...filtered({}) }]),
      ...words.map((word, i) =>
        chunk([{ index: 0, delta: { content: i === 0 ? word : ` ${word}` }, logprobs: null, finish_reason: null, ...filtered(AZURE_SAFE) }]),
      ),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason, ...filtered({}) }]),
    ];
    if (includeUsage) chunks.push(chunk([], { usage }));
    const frames: SseFrame[] = [...chunks.map((c) => JSON.stringify(c)), '[DONE]'].map((data) => ({ data }));
    this.answerSse(res, request, frames, script);
  }

  #embeddings(request: RecordedRequest, res: ServerResponse, script: AnswerScript, fail: (status: number, error: FakeErrorBody) => void): void {
    const body = request.body;
    if (!isObject(body) || typeof body.model !== 'string' || body.model === '') {
      return fail(400, { message: 'you must provide a model parameter', type: 'invalid_request_error' });
    }
    const inputs: unknown[] = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input : [];
    if (inputs.length === 0 || inputs.some((x) => (typeof x === 'string' ? x === '' : !Array.isArray(x)))) {
      return fail(400, {
        message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        type: 'invalid_request_error',
      });
    }
    if (inputs.length > MAX_EMBEDDING_INPUTS) {
      return fail(400, {
        message: `'$.input' is invalid: ${inputs.length} inputs given, the maximum is ${MAX_EMBEDDING_INPUTS}.`,
        type: 'invalid_request_error',
        param: 'input',
      });
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      return fail(400, {
        message: `'${String(format)}' is not one of ['float', 'base64'] - 'encoding_format'`,
        type: 'invalid_request_error',
        param: 'encoding_format',
      });
    }
    const dims = body.dimensions ?? this.#options.defaultDimensions ?? 8;
    if (!Number.isInteger(dims) || dims < 1) {
      return fail(400, {
        message: `Invalid value for 'dimensions' = ${String(dims)}. Must be an integer >= 1.`,
        type: 'invalid_request_error',
        param: 'dimensions',
      });
    }
    const base64 = format === 'base64' && !this.ignoreEncodingFormat;
    const tokens = inputs.reduce<number>((n, x) => n + (typeof x === 'string' ? countWords(x) : (x as unknown[]).length), 0);
    const answer = {
      object: 'list',
      data: inputs.map((input, index) => {
        const vector = fakeEmbedding(typeof input === 'string' ? input : JSON.stringify(input), dims);
        return { object: 'embedding', index, embedding: base64 ? encodeFloat32(vector) : vector };
      }),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
    this.answerJson(res, request, answer, script);
  }
}

/** Azure's content filter verdict when nothing was caught, per category. */
export const AZURE_SAFE = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};

const AZURE_PROMPT_FILTER = [{ prompt_index: 0, content_filter_results: { ...AZURE_SAFE, jailbreak: { filtered: false, detected: false } } }];

/** The first chunk of every Azure OpenAI chat stream: the prompt's filter verdicts, and nothing else. */
export function azurePromptFilterChunk(): Record<string, unknown> {
  return { choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: AZURE_PROMPT_FILTER };
}

/** The reply the fake gives: "echo: " and the last user message (cut to `max_tokens` words). */
export function fakeReply(lastUserText: string): string {
  return `echo: ${lastUserText}`;
}

function replyWords(body: any): { words: string[]; finishReason: 'stop' | 'length' } {
  const lastUser = [...body.messages].reverse().find((m: any) => m?.role === 'user');
  const words = fakeReply(textOf(lastUser?.content)).split(/\s+/).filter(Boolean);
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (Number.isInteger(limit) && limit >= 1 && words.length > limit) return { words: words.slice(0, limit), finishReason: 'length' };
  return { words, finishReason: 'stop' };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p: any) => (p?.type === 'text' && typeof p.text === 'string' ? p.text : '')).join(' ');
  return '';
}

/**
 * The fake's vector for `text`: deterministic (FNV-1a seed, mulberry32), unit length, every value
 * exactly representable as float32 (so base64 round trips compare equal).
 */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const next = mulberry32(fnv1a(text));
  const raw = Array.from({ length: dimensions }, () => next() * 2 - 1);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((x) => Math.fround(x / norm));
}

function maskKey(key: string): string {
  return key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}`;
}
