import { IsIn, IsOptional } from '../../core/validation.js';
import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import type { EmbeddingInputType } from '../../core/embedder.js';
import { HttpClient } from '../../http/http-client.js';
import { HttpEmbedderDriver } from '../../toolkit/http-embedder.js';
import { serviceClientOptions, withRequiredApiKey, withRequiredModel } from '../../toolkit/service-fields.js';
import { readVectorListAt } from '../../toolkit/vector-readers.js';
import { GEMINI_DEFAULT_BASE_URL, GEMINI_MAX_EMBEDDING_INPUTS, GEMINI_MODELS_PATH } from './gemini-api.js';
import { geminiVersionedRoot, withGeminiConnection } from './gemini-connection.js';

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

export const geminiEmbedder = defineEmbeddingProvider({
  type: 'gemini',
  config: GeminiEmbedderConfig,
  description: 'Google Gemini embeddings (the native {baseUrl}/{apiVersion}/models/{model}:batchEmbedContents, key in x-goog-api-key)',
  docs: {
    defaultBaseUrl: GEMINI_DEFAULT_BASE_URL,
    batchLimit: GEMINI_MAX_EMBEDDING_INPUTS,
    notes:
      'baseUrl is the API root as @google/genai takes it, the same for the gemini LLM; apiVersion (default v1beta) is the version path after it, and a baseUrl ending in one (/v1beta) is refused. inputType query/document sends taskType RETRIEVAL_QUERY/RETRIEVAL_DOCUMENT (taskType in YAML forces one); dimensions goes out as outputDimensionality, and vectors shortened that way are not re-normalized.',
  },
  create: (config, context) => {
    // `gemini-embedding-001` and `models/gemini-embedding-001` name the same model.
    const model = config.model.replace(/^models\//, '');
    const resource = `models/${model}`;
    return new HttpEmbedderDriver({
      // The version path is part of the client's root, so every route (and the ping) sits under it.
      client: new HttpClient(serviceClientOptions({ ...config, baseUrl: geminiVersionedRoot(config) }, { keyHeader: 'x-goog-api-key' }), context),
      model,
      maxBatchSize: GEMINI_MAX_EMBEDDING_INPUTS,
      // `outputDimensionality` (gemini-embedding-001 and later; the old embedding-001 refuses it).
      supportsDimensions: true,
      path: `/${resource.split('/').map(encodeURIComponent).join('/')}:batchEmbedContents`,
      pingPath: GEMINI_MODELS_PATH,
      body: ({ texts, inputType, dimensions }) => {
        const taskType = config.taskType ?? (inputType ? TASK_OF_INPUT[inputType] : undefined);
        return { requests: texts.map((text) => ({ model: resource, content: { parts: [{ text }] }, taskType, outputDimensionality: dimensions })) };
      },
      // The answer keeps the order of the requests; it reports no token usage.
      read: (answer, { count, site }) => ({ embeddings: readVectorListAt(site, answer, 'embeddings', count, { itemKey: 'values' }) }),
    });
  },
});
