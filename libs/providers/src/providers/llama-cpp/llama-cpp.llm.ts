import { defineLLMProvider } from '../../core/provider-definition.js';
import { LlamaCppChatDriver } from './llama-cpp-chat-driver.js';
import { LLAMA_CPP_TYPE, LlamaCppLLMConfig } from './llama-cpp-config.js';

export { LLAMA_CPP_DEFAULT_MAX_TOKENS, LLAMA_CPP_SAMPLING_DEFAULTS, LlamaCppLLMConfig } from './llama-cpp-config.js';

// The driver lives in a file of its own: its declarations name node-llama-cpp's types, which apps
// without that optional peer must never have to resolve.
export const llamaCppLLM = defineLLMProvider({
  type: LLAMA_CPP_TYPE,
  config: LlamaCppLLMConfig,
  description: 'a GGUF chat model run in process by node-llama-cpp (optional peer dependency); no server, no network',
  docs: {
    notes:
      "model is a GGUF path (or hf: URI); chat goes through the model's own template; sampling defaults are llama.cpp's (temperature 0.8, top_p 0.95, top_k 40, min_p 0.05); max_tokens defaults to maxTokens (512); tools go through the chat template's function calling (auto) or a grammar (required, a named function); images are not supported.",
  },
  create: (config, context) => LlamaCppChatDriver.create(config, context),
});
