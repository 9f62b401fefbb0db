import { IsIn, IsOptional } from 'class-validator';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { HttpClient } from '../../http/http-client.js';
import { badResponse, describeValue, isObject } from '../../http/http-errors.js';
import { GEMINI_DEFAULT_BASE_URL, geminiVersionedRoot, withGeminiConnection } from './gemini-connection.js';
import { urlSecrets, withRequiredApiKey, withRequiredModel } from '../../toolkit/service-fields.js';
import { defineEmbeddingProvider, type DriverContext } from '../../core/provider-definition.js';
import type { EmbedderBatchResult, EmbedderCallOptions, EmbedderDriver, EmbeddingInputType } from '../../core/embedder.js';
import { readVector } from '../../toolkit/vector-readers.js';

/** Gemini's limit of requests in one `batchEmbedContents` call ("at most 100 requests can be in one batch"). */
export const GEMINI_MAX_EMBEDDING_INPUTS = 100;

/** The task types of Gemini's embedding API (`taskType`). */
export const GEMINI_TASK_TYPES = [
  'RETRIEVAL_QUERY',
  'RETRIEVAL_DOCUMENT',
  'SEMANTIC_SIMILARITY',
  'CLASSIFICATION',
  'CLUSTERING',
  'QUESTION_ANSWERING',
  'FACT_VERIFICATION',
  'CODE_RETRIEVAL_QUERY',
] as const;
export type GeminiTaskType = (typeof GEMINI_TASK_TYPES)[number];

const TASK_OF_INPUT: Record<EmbeddingInputType, GeminiTaskType> = { query: 'RETRIEVAL_QUERY', document: 'RETRIEVAL_DOCUMENT' };

/** `type: gemini` under `embedding:`: Gemini's native `{apiVersion}/models/{model}:batchEmbedContents`. */
export class GeminiEmbedderConfig extends withRequiredModel(withRequiredApiKey(withGeminiConnection(EmbeddingInstanceConfig))) {
  /** `taskType` of every request, whatever the call's inputType (which otherwise picks RETRIEVAL_QUERY / RETRIEVAL_DOCUMENT). */
  @IsOptional() @IsIn([...GEMINI_TASK_TYPES]) taskType?: GeminiTaskType;
}

export class GeminiEmbeddingDriver implements EmbedderDriver {
  readonly model: string;
  readonly maxBatchSize = GEMINI_MAX_EMBEDDING_INPUTS;
  /** `outputDimensionality` (gemini-embedding-001 and later; the old embedding-001 refuses it). */
  readonly supportsDimensions = true;
  readonly #client: HttpClient;
  readonly #taskType?: GeminiTaskType;
  readonly #path: string;
  readonly #resource: string;

  constructor(config: GeminiEmbedderConfig, context: DriverContext) {
    // `gemini-embedding-001` and `models/gemini-embedding-001` name the same model.
    this.model = config.model.replace(/^models\//, '');
    this.#resource = `models/${this.model}`;
    this.#path = `/${this.#resource.split('/').map(encodeURIComponent).join('/')}:batchEmbedContents`;
    this.#taskType = config.taskType;
    // The version path is part of the client's root, so every route (and the ping) sits under it.
    const baseUrl = geminiVersionedRoot(config);
    this.#client = new HttpClient(
      { baseUrl, headers: { ...config.headers, 'x-goog-api-key': config.apiKey }, secrets: urlSecrets(baseUrl) },
      context,
    );
  }

  /** Free: `GET /models` answers when the service is up and takes the key. */
  async ping(signal: AbortSignal): Promise<void> {
    await this.#client.get('/models', signal);
  }

  async embedBatch(texts: string[], options: EmbedderCallOptions): Promise<EmbedderBatchResult> {
    const taskType = this.#taskType ?? (options.inputType ? TASK_OF_INPUT[options.inputType] : undefined);
    const body = {
      requests: texts.map((text) => ({
        model: this.#resource,
        content: { parts: [{ text }] },
        ...(taskType ? { taskType } : {}),
        ...(options.dimensions !== undefined ? { outputDimensionality: options.dimensions } : {}),
      })),
    };
    const answer = await this.#client.postJson(this.#path, body, options.signal);
    const embeddings = isObject(answer) ? answer.embeddings : undefined;
    if (!Array.isArray(embeddings)) throw badResponse(this.#client.site, `expected {embeddings: [...]}, got ${describeValue(answer)}`);
    if (embeddings.length !== texts.length) throw badResponse(this.#client.site, `asked for ${texts.length} vectors, got ${embeddings.length}`);
    // The answer keeps the order of the requests; it reports no token usage.
    return { embeddings: embeddings.map((item, index) => readVector(this.#client.site, isObject(item) ? item.values : undefined, index)) };
  }
}

export const geminiEmbedder = defineEmbeddingProvider({
  type: 'gemini',
  config: GeminiEmbedderConfig,
  description: "Google Gemini embeddings (the native {baseUrl}/{apiVersion}/models/{model}:batchEmbedContents, key in x-goog-api-key)",
  docs: {
    defaultBaseUrl: GEMINI_DEFAULT_BASE_URL,
    batchLimit: GEMINI_MAX_EMBEDDING_INPUTS,
    notes:
      'baseUrl is the API root as @google/genai takes it, the same for the gemini LLM; apiVersion (default v1beta) is the version path after it, and a baseUrl ending in one (/v1beta) is refused. inputType query/document sends taskType RETRIEVAL_QUERY/RETRIEVAL_DOCUMENT (taskType in YAML forces one); dimensions goes out as outputDimensionality, and vectors shortened that way are not re-normalized.',
  },
  create: (config, context) => new GeminiEmbeddingDriver(config, context),
});
