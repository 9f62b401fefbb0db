import { LLMInstanceConfig } from '../config/instance-config.js';
import { AZURE_OPENAI_DEFAULT_API_VERSION, createAzureOpenAIClient, withAzureOpenAIFields } from '../http/azure-openai-client.js';
import { defineLLMProvider } from '../registry/provider-definition.js';
import { OpenAIChatDriver } from './openai.llm.js';

/** `type: azure-openai` under `llm:`: chat completions of one Azure OpenAI deployment. */
export class AzureOpenAILLMConfig extends withAzureOpenAIFields(LLMInstanceConfig) {}

/**
 * The OpenAI chat driver on the SDK's `AzureOpenAI` client: `{endpoint}/openai/deployments/{deployment}`,
 * `api-version`, the key as `api-key`. Streams always ask for usage (what the Python library missed).
 */
export const azureOpenAILLM = defineLLMProvider({
  type: 'azure-openai',
  config: AzureOpenAILLMConfig,
  description: 'Azure OpenAI chat completions of one deployment (endpoint, deployment, apiVersion, apiKey)',
  docs: {
    notes:
      `Takes endpoint (https://<resource>.openai.azure.com), deployment and apiKey (sent as api-key), apiVersion default ${AZURE_OPENAI_DEFAULT_API_VERSION}; ` +
      'model defaults to the deployment name; streams always ask for usage.',
  },
  create: (config, context) =>
    new OpenAIChatDriver({ model: config.model ?? config.deployment }, context, { connection: createAzureOpenAIClient(config, context) }),
});
