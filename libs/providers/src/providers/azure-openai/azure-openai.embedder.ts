import { EmbeddingInstanceConfig } from '../../core/instance-config.js';
import { AZURE_OPENAI_DEFAULT_API_VERSION, createAzureHttpClient, withAzureOpenAIFields } from './azure-openai-client.js';
import { defineEmbeddingProvider } from '../../core/provider-definition.js';
import { OPENAI_MAX_EMBEDDING_INPUTS, OpenAIEmbeddingDriver } from '../openai/openai.embedder.js';

/** `type: azure-openai` under `embedding:`: embeddings of one Azure OpenAI deployment. */
export class AzureOpenAIEmbedderConfig extends withAzureOpenAIFields(EmbeddingInstanceConfig) {}

/**
 * The OpenAI embedding driver on the SDK's `AzureOpenAI` client, so the key goes out as `api-key`
 * (the Python library sent `Authorization` here, which Azure refuses). 2048 inputs per request, as
 * OpenAI's; text-embedding-3-* take `dimensions` (ada-002 refuses it, and the length check catches it).
 */
export const azureOpenAIEmbedder = defineEmbeddingProvider({
  type: 'azure-openai',
  config: AzureOpenAIEmbedderConfig,
  description: 'Azure OpenAI embeddings of one deployment (endpoint, deployment, apiVersion, apiKey)',
  docs: {
    batchLimit: OPENAI_MAX_EMBEDDING_INPUTS,
    notes:
      `Takes endpoint (https://<resource>.openai.azure.com), deployment and apiKey (sent as api-key), apiVersion default ${AZURE_OPENAI_DEFAULT_API_VERSION}; ` +
      'model defaults to the deployment name; dimensions is sent (text-embedding-3-*).',
  },
  create: (config, context) => new OpenAIEmbeddingDriver({ model: config.model ?? config.deployment }, context, createAzureHttpClient(config, context)),
});
