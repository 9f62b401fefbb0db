import { LLMInstanceConfig } from '../../core/instance-config.js';
import { GEMINI_DEFAULT_BASE_URL, geminiVersionedRoot, withGeminiConnection } from './gemini-connection.js';
import { createOpenAIHttpClient } from '../openai/openai-client.js';
import { withRequiredApiKey, withRequiredModel } from '../../toolkit/service-fields.js';
import { defineLLMProvider } from '../../core/provider-definition.js';
import { OpenAIChatDriver } from '../openai/openai.llm.js';
import { isObject } from '../../http/http-errors.js';
import { splitMessageThought, StreamThoughtSplitter } from './gemini-thoughts.js';

/** `type: gemini` under `llm:`: Gemini through Google's OpenAI-compatible chat completions. */
export class GeminiLLMConfig extends withRequiredModel(withRequiredApiKey(withGeminiConnection(LLMInstanceConfig))) {}

export const geminiLLM = defineLLMProvider({
  type: 'gemini',
  config: GeminiLLMConfig,
  description: 'Google Gemini through its OpenAI-compatible endpoint ({baseUrl}/{apiVersion}/openai/chat/completions)',
  docs: {
    defaultBaseUrl: GEMINI_DEFAULT_BASE_URL,
    notes:
      'baseUrl is the API root as @google/genai takes it, the same for the gemini embedder; apiVersion (default v1beta) is the version path after it, and a baseUrl ending in one (/v1beta/openai, /v1beta) is refused. The Gemini API key goes out as Authorization: Bearer; model is a Gemini model name (gemini-2.5-flash, ...).',
  },
  // Google's endpoint speaks OpenAI's wire format, Bearer key included (its error bodies come as a
  // list, which the transport's error reader unwraps).
  create: (config, context) => {
    const connection = { model: config.model, apiKey: config.apiKey, baseUrl: `${geminiVersionedRoot(config)}/openai`, headers: config.headers };
    return new OpenAIChatDriver(connection, context, {
      client: createOpenAIHttpClient(connection, context),
      answers: {
        completion: (completion) => {
          for (const choice of completion.choices as unknown[]) if (isObject(choice) && isObject(choice.message)) splitMessageThought(choice.message);
        },
        chunks: () => {
          const splitter = new StreamThoughtSplitter();
          return (chunk) => splitter.push(chunk);
        },
      },
    });
  },
});
