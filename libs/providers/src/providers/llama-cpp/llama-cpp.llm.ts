import { IsInt, IsOptional, Max, Min } from '../../core/validation.js';
import { ToNumber } from '../../core/config-fields.js';
import { LLMInstanceConfig } from '../../core/instance-config.js';
import { defineLLMProvider } from '../../core/provider-definition.js';
import { LlamaCppChatDriver } from './llama-cpp-chat-driver.js';
import { LLAMA_CPP_TYPE, withLlamaCppFields } from './llama-cpp-config.js';

export { LLAMA_CPP_DEFAULT_MAX_TOKENS, LLAMA_CPP_SAMPLING_DEFAULTS } from './llama-cpp-config.js';

/** `type: llama-cpp` under `llm:`: a GGUF chat model run in process by node-llama-cpp. */
export class LlamaCppLLMConfig extends withLlamaCppFields(LLMInstanceConfig) {
  /** Default answer length in tokens when a call gives no max_tokens; default 512 (always capped by the context left). */
  @IsOptional() @ToNumber() @IsInt() @Min(1) @Max(1_048_576) maxTokens?: number;
}

// The driver lives in a file of its own: its declarations name node-llama-cpp's types, which apps
// without that optional peer must never have to resolve.
export const llamaCppLLM = defineLLMProvider({
  type: LLAMA_CPP_TYPE,
  config: LlamaCppLLMConfig,
  description: 'a GGUF chat model run in process by node-llama-cpp (optional peer dependency); no server, no network',
  docs: {
    notes:
      "model is a GGUF path (or hf: URI); chat goes through the model's own template; sampling defaults are llama.cpp's (temperature 0.8, top_p 0.95, top_k 40, min_p 0.05); max_tokens defaults to maxTokens (512); tools and images are not supported.",
  },
  create: (config, context) => LlamaCppChatDriver.create(config, context),
});
