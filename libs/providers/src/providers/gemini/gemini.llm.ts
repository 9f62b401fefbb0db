import { LLMInstanceConfig } from '../../core/instance-config.js';
import { GEMINI_DEFAULT_BASE_URL, geminiVersionedRoot, withGeminiConnection } from './gemini-connection.js';
import { createOpenAIClient } from '../openai/openai-client.js';
import { withRequiredApiKey, withRequiredModel } from '../../toolkit/service-fields.js';
import { defineLLMProvider } from '../../core/provider-definition.js';
import { OpenAIChatDriver } from '../openai/openai.llm.js';

/** `type: gemini` under `llm:`: Gemini through Google's OpenAI-compatible chat completions. */
export class GeminiLLMConfig extends withRequiredModel(withRequiredApiKey(withGeminiConnection(LLMInstanceConfig))) {}

export const geminiLLM = defineLLMProvider({
  type: 'gemini',
  config: GeminiLLMConfig,
  description: "Google Gemini through its OpenAI-compatible endpoint ({baseUrl}/{apiVersion}/openai/chat/completions)",
  docs: {
    defaultBaseUrl: GEMINI_DEFAULT_BASE_URL,
    notes:
      'baseUrl is the API root as @google/genai takes it, the same for the gemini embedder; apiVersion (default v1beta) is the version path after it, and a baseUrl ending in one (/v1beta/openai, /v1beta) is refused. The Gemini API key goes out as Authorization: Bearer; model is a Gemini model name (gemini-2.5-flash, ...).',
  },
  // Google's endpoint speaks OpenAI's wire format, Bearer key included: the openai driver, with error
  // bodies unwrapped so their reason reaches the message.
  create: (config, context) => {
    const connection = { model: config.model, apiKey: config.apiKey, baseUrl: `${geminiVersionedRoot(config)}/openai`, headers: config.headers };
    return new OpenAIChatDriver(connection, context, { connection: createOpenAIClient(connection, context, { fetch: unwrapGoogleErrors }) });
  },
});

/**
 * Google answers errors as a list around OpenAI's shape (`[{"error": {...}}]`), which the openai
 * SDK cannot read, so its reason would be lost. The list is unwrapped; every other answer passes as is.
 */
async function unwrapGoogleErrors(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return response;
  const text = await response.text();
  let body = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.length > 0 && typeof parsed[0] === 'object' && parsed[0] !== null && 'error' in parsed[0]) body = JSON.stringify(parsed[0]);
  } catch {
    // Not JSON after all: passed on as it came.
  }
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
