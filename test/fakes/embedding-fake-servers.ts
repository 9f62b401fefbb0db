import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { countWords, isObject, JsonServiceFakeServer, type AnswerScript, type JsonServiceBehaviour, type RecordedRequest } from './fake-http-server.js';
import { encodeFloat32, fakeEmbedding } from './openai-fake-server.js';

export type { RecordedRequest } from './fake-http-server.js';

/**
 * Fake embedding services on 127.0.0.1 (random port), one per server, each speaking its service's
 * wire format as documented: path, auth, request body, answer, and the service's own error body.
 *
 *   tei     POST /embed            {inputs, normalize?, truncate?, prompt_name?}         → number[][]            errors {error, error_type}
 *   ollama  POST /api/embed        {model, input, truncate?, dimensions?, keep_alive?}   → {model, embeddings, prompt_eval_count}  errors {error}
 *   cohere  POST /v2/embed         {model, texts ≤ 96, input_type, embedding_types, ...} → {id, embeddings:{float}, texts, meta}   errors {id, message}
 *   jina    POST /v1/embeddings    {model, input, task?, dimensions?, embedding_type?}   → {data:[{index, embedding}], usage}       errors {detail}
 *   voyage  POST /v1/embeddings    {model, input ≤ 1000, input_type?, output_dimension?, encoding_format?} → {object, data, model, usage}  errors {detail}
 *
 * Jina's `embedding_type: "base64"` and Voyage's `encoding_format: "base64"` make each
 * `data[i].embedding` a base64 string of little-endian float32, as the services send it; without
 * them, lists of numbers.
 *
 * They are stricter than the real services in one way: a body key the service does not document
 * is refused (with the service's validation error), so a typo in what a driver sends fails a test.
 * Every request is recorded; the next answers can be scripted (errors with headers, raw bodies,
 * delays, hangs, changes to the answer).
 */

export type EmbeddingService = 'tei' | 'ollama' | 'cohere' | 'jina' | 'voyage';

/** What the server does with one request, in place of its normal answer (errors come in the service's own error body). */
export type FakeBehaviour = JsonServiceBehaviour;

export interface EmbeddingFakeOptions {
  /** When set, every request must carry `Authorization: Bearer <apiKey>` (401 otherwise, in the service's words). */
  apiKey?: string;
  /** Vector length when the request asks for none; default 8. */
  dimensions?: number;
  /** TEI: `--max-client-batch-size` (default 32). Others: their documented limit, unless given. */
  maxBatch?: number;
  /** TEI: the model's prompt names (`prompt_name` must be one of them); default ['query', 'document']. */
  promptNames?: string[];
  /** Ollama: pulled models (others answer 404); default: any model. */
  models?: string[];
}

/** Each service's documented per-request input limit (Ollama has none). */
export const SERVICE_LIMITS: Record<EmbeddingService, number> = { tei: 32, ollama: Infinity, cohere: 96, jina: 2048, voyage: 1000 };

const COHERE_INPUT_TYPES = ['search_document', 'search_query', 'classification', 'clustering', 'image'];
const COHERE_EMBEDDING_TYPES = ['float', 'int8', 'uint8', 'binary', 'ubinary', 'base64'];
const COHERE_DIMENSIONS = [256, 512, 1024, 1536];
const JINA_TASKS = ['retrieval.query', 'retrieval.passage', 'text-matching', 'classification', 'separation', 'code.query', 'code.passage'];
const VOYAGE_DIMENSIONS = [256, 512, 1024, 2048];

const ALLOWED_KEYS: Record<EmbeddingService, string[]> = {
  tei: ['inputs', 'normalize', 'truncate', 'truncation_direction', 'prompt_name', 'dimensions'],
  ollama: ['model', 'input', 'truncate', 'dimensions', 'keep_alive', 'options'],
  cohere: ['model', 'texts', 'images', 'inputs', 'input_type', 'embedding_types', 'output_dimension', 'max_tokens', 'truncate'],
  jina: ['model', 'input', 'embedding_type', 'task', 'dimensions', 'normalized', 'late_chunking', 'truncate', 'return_multivector'],
  voyage: ['model', 'input', 'input_type', 'truncation', 'output_dimension', 'output_dtype', 'encoding_format'],
};

const ROUTES: Record<EmbeddingService, string> = {
  tei: 'POST /embed',
  ollama: 'POST /api/embed',
  cohere: 'POST /v2/embed',
  jina: 'POST /v1/embeddings',
  voyage: 'POST /v1/embeddings',
};

/** A request the service refuses: the status and its message (put into the service's error body). */
class Refusal {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;

export class EmbeddingFakeServer extends JsonServiceFakeServer {
  readonly service: EmbeddingService;
  /** Jina, Voyage: answer lists of numbers whatever the request asked (a proxy or an older server). Cleared by reset(). */
  ignoreEncodingFormat = false;
  /** Jina, Voyage: the form the vectors of each answered request were sent in. Cleared by reset(). */
  readonly encodings: Array<'float' | 'base64'> = [];
  readonly #options: EmbeddingFakeOptions;

  private constructor(service: EmbeddingService, options: EmbeddingFakeOptions) {
    super(MAX_BODY_BYTES);
    this.service = service;
    this.#options = options;
  }

  static start(service: EmbeddingService, options: EmbeddingFakeOptions = {}): Promise<EmbeddingFakeServer> {
    return this.listening(new EmbeddingFakeServer(service, options));
  }

  /** The API root, as `baseUrl` takes it: the bare host, but with `/v1` for Voyage (its SDKs take `https://api.voyageai.com/v1`). */
  get baseUrl(): string {
    return this.service === 'voyage' ? `${this.origin}/v1` : this.origin;
  }

  /** The per-request input limit this fake enforces. */
  get limit(): number {
    return this.#options.maxBatch ?? SERVICE_LIMITS[this.service];
  }

  override reset(): void {
    super.reset();
    this.ignoreEncodingFormat = false;
    this.encodings.length = 0;
  }

  /** The inputs of every recorded request, by request. */
  get batches(): string[][] {
    return this.requests.map((r) => (inputsOf(this.service, r.body) ?? []) as string[]);
  }

  protected override get label(): string {
    return `${this.service} fake`;
  }

  protected defaultErrorMessage(status: number): string {
    return `fake ${this.service} error ${status}`;
  }

  protected serve(request: RecordedRequest, res: ServerResponse, script: AnswerScript): void {
    const route = `${request.method} ${request.pathname}`;
    if (this.service === 'tei' && route === 'GET /info') {
      return this.sendJson(res, request, 200, { model_id: 'fake/tei-model', max_client_batch_size: this.limit, max_batch_tokens: 16384, version: '1.8.0' });
    }
    if (route !== ROUTES[this.service]) return this.sendError(res, request, 404, `no route ${route}`);

    const auth = this.#checkAuth(request.headers.authorization);
    if (auth) return this.sendError(res, request, auth.status, auth.message);
    if (request.invalidJson)
      return this.sendError(res, request, this.service === 'cohere' || this.service === 'voyage' ? 400 : 422, 'the request body is not valid JSON');

    try {
      const answer = this.#answer(request.body);
      this.answerJson(res, request, answer, script);
    } catch (err) {
      if (err instanceof Refusal) return this.sendError(res, request, err.status, err.message);
      throw err;
    }
  }

  #checkAuth(header: string | undefined): Refusal | undefined {
    const key = this.#options.apiKey;
    if (key === undefined || header === `Bearer ${key}`) return undefined;
    switch (this.service) {
      case 'tei':
        return new Refusal(401, ''); // TEI's --api-key check answers a bare 401
      case 'ollama':
        return new Refusal(401, 'unauthorized');
      case 'cohere':
        return new Refusal(401, header ? 'invalid api token' : 'no api key supplied');
      case 'jina':
        return new Refusal(401, 'Invalid API key. Please get your free API key at https://jina.ai/embeddings/');
      case 'voyage':
        return new Refusal(401, header ? 'Provided API key is invalid.' : 'No API key provided.');
    }
  }

  protected sendError(res: ServerResponse, request: RecordedRequest, status: number, message: string, headers?: Record<string, string>): void {
    switch (this.service) {
      case 'tei': {
        if (message === '') return this.sendRaw(res, request, status, '', 'text/plain', headers);
        const errorType = status === 429 ? 'overloaded' : status === 503 ? 'unhealthy' : status === 424 || status >= 500 ? 'backend' : 'validation';
        return this.sendJson(res, request, status, { error: message, error_type: errorType }, headers);
      }
      case 'ollama':
        return this.sendJson(res, request, status, { error: message }, headers);
      case 'cohere':
        return this.sendJson(res, request, status, { id: randomUUID(), message }, headers);
      case 'jina':
      case 'voyage':
        return this.sendJson(res, request, status, { detail: message }, headers);
    }
  }

  #answer(body: any): unknown {
    if (!isObject(body)) throw new Refusal(this.service === 'cohere' || this.service === 'voyage' ? 400 : 422, 'the request body must be a JSON object');
    const unknown = Object.keys(body).filter((k) => !ALLOWED_KEYS[this.service].includes(k));
    if (unknown.length) throw new Refusal(this.service === 'cohere' || this.service === 'voyage' ? 400 : 422, `unknown field(s): ${unknown.join(', ')}`);
    const given = inputsOf(this.service, body);
    if (!given || given.length === 0 || given.some((x) => typeof x !== 'string')) {
      throw new Refusal(this.service === 'cohere' || this.service === 'voyage' ? 400 : 422, 'input must be a string or a non-empty list of strings');
    }
    const inputs = given as string[];
    if (inputs.length > this.limit) throw new Refusal(this.service === 'tei' ? 413 : 400, this.#tooMany(inputs.length));
    const tokens = inputs.reduce((n, x) => n + countWords(x), 0);
    const vectors = (length: number) => inputs.map((text) => fakeEmbedding(text, length));
    const native = this.#options.dimensions ?? 8;

    switch (this.service) {
      case 'tei': {
        const names = this.#options.promptNames ?? ['query', 'document'];
        if (body.prompt_name != null && !names.includes(body.prompt_name)) {
          throw new Refusal(400, `Prompt name \`${String(body.prompt_name)}\` was not found in the definition list`);
        }
        checkOptionalBoolean(body, 'normalize', 422);
        checkOptionalBoolean(body, 'truncate', 422);
        // normalize: false gives the raw (here: doubled) vectors.
        return vectors(native).map((v) => (body.normalize === false ? v.map((x) => x * 2) : v));
      }
      case 'ollama': {
        if (typeof body.model !== 'string' || body.model === '') throw new Refusal(400, 'model is required');
        if (this.#options.models && !this.#options.models.includes(body.model)) {
          throw new Refusal(404, `model "${body.model}" not found, try pulling it first`);
        }
        checkOptionalBoolean(body, 'truncate', 400);
        const dims = body.dimensions ?? native;
        if (!Number.isInteger(dims) || dims < 1) throw new Refusal(400, 'dimensions must be a positive integer');
        return { model: body.model, embeddings: vectors(dims), total_duration: 14143917, load_duration: 1019500, prompt_eval_count: tokens };
      }
      case 'cohere': {
        if (typeof body.model !== 'string' || body.model === '') throw new Refusal(400, 'invalid request: model must be specified');
        if (body.input_type === undefined) throw new Refusal(400, 'invalid request: valid input_type must be provided with the provided model');
        if (!COHERE_INPUT_TYPES.includes(body.input_type)) {
          throw new Refusal(400, `invalid request: input_type must be one of ${COHERE_INPUT_TYPES.join(', ')}; received ${String(body.input_type)}`);
        }
        const types: unknown = body.embedding_types;
        if (!Array.isArray(types) || types.length === 0 || types.some((t) => !COHERE_EMBEDDING_TYPES.includes(t as string))) {
          throw new Refusal(400, 'invalid request: embedding_types must be a non-empty list of float, int8, uint8, binary, ubinary, base64');
        }
        if (body.truncate !== undefined && !['NONE', 'START', 'END'].includes(body.truncate)) {
          throw new Refusal(400, 'invalid request: truncate must be one of NONE, START, END');
        }
        if (body.output_dimension != null && !COHERE_DIMENSIONS.includes(body.output_dimension)) {
          throw new Refusal(400, `invalid request: output_dimension must be one of ${COHERE_DIMENSIONS.join(', ')}`);
        }
        const dims = body.output_dimension ?? native;
        return {
          id: randomUUID(),
          embeddings: Object.fromEntries(
            (types as string[]).map((t) => [t, t === 'float' ? vectors(dims) : vectors(dims).map((v) => v.map((x) => Math.round(x * 127)))]),
          ),
          texts: inputs,
          meta: { api_version: { version: '2' }, billed_units: { input_tokens: tokens } },
          response_type: 'embeddings_by_type',
        };
      }
      case 'jina': {
        if (typeof body.model !== 'string' || body.model === '') throw new Refusal(422, 'model: Field required');
        if (body.task !== undefined && !JINA_TASKS.includes(body.task)) throw new Refusal(422, `task: Input should be ${JINA_TASKS.join(', ')}`);
        if (body.embedding_type !== undefined && body.embedding_type !== 'float' && body.embedding_type !== 'base64') {
          throw new Refusal(422, 'this fake answers embedding_type float and base64 only');
        }
        checkOptionalBoolean(body, 'normalized', 422);
        checkOptionalBoolean(body, 'truncate', 422);
        const dims = body.dimensions ?? native;
        if (!Number.isInteger(dims) || dims < 1) throw new Refusal(422, 'dimensions: Input should be a valid integer greater than 0');
        const encode = this.#encoder(body.embedding_type === 'base64');
        return {
          model: body.model,
          object: 'list',
          usage: { total_tokens: tokens, prompt_tokens: tokens },
          data: vectors(dims).map((embedding, index) => ({ object: 'embedding', index, embedding: encode(embedding) })),
        };
      }
      case 'voyage': {
        if (typeof body.model !== 'string' || body.model === '') throw new Refusal(400, 'Model is required.');
        if (body.input_type != null && !['query', 'document'].includes(body.input_type)) {
          throw new Refusal(400, "Value error, input_type should be either 'query', 'document', or None.");
        }
        checkOptionalBoolean(body, 'truncation', 400);
        if (body.output_dimension != null && !VOYAGE_DIMENSIONS.includes(body.output_dimension)) {
          throw new Refusal(400, `output_dimension must be one of ${VOYAGE_DIMENSIONS.join(', ')} or None.`);
        }
        if (body.encoding_format != null && body.encoding_format !== 'base64') {
          throw new Refusal(400, "Value error, encoding_format should be either 'base64' or None.");
        }
        const dims = body.output_dimension ?? native;
        const encode = this.#encoder(body.encoding_format === 'base64');
        return {
          object: 'list',
          data: vectors(dims).map((embedding, index) => ({ object: 'embedding', embedding: encode(embedding), index })),
          model: body.model,
          usage: { total_tokens: tokens },
        };
      }
    }
  }

  /** How this answer's vectors go out (base64 when asked, unless told to ignore it), recorded. */
  #encoder(asked: boolean): (vector: number[]) => number[] | string {
    const base64 = asked && !this.ignoreEncodingFormat;
    this.encodings.push(base64 ? 'base64' : 'float');
    return base64 ? encodeFloat32 : (vector) => vector;
  }

  #tooMany(count: number): string {
    switch (this.service) {
      case 'tei':
        return `batch size ${count} > maximum allowed batch size ${this.limit}`;
      case 'cohere':
        return `invalid request: total number of texts must be at most ${this.limit} - received ${count}`;
      case 'voyage':
        return `The batch size limit is ${this.limit}. Your batch size is ${count}.`;
      default:
        return `too many inputs: ${count} > ${this.limit}`;
    }
  }
}

/** The inputs of a request body, by the service's field name (a bare string counts as one). */
function inputsOf(service: EmbeddingService, body: any): unknown[] | undefined {
  if (!isObject(body)) return undefined;
  const value = service === 'tei' ? body.inputs : service === 'cohere' ? body.texts : body.input;
  if (typeof value === 'string' && service !== 'cohere') return [value];
  return Array.isArray(value) ? value : undefined;
}

function checkOptionalBoolean(body: Record<string, unknown>, key: string, status: number): void {
  if (body[key] !== undefined && typeof body[key] !== 'boolean') throw new Refusal(status, `${key} must be a boolean`);
}
