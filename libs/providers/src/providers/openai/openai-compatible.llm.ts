import { IsBoolean, IsOptional } from '../../core/validation.js';
import { ToBoolean } from '../../core/config-fields.js';
import { LLMInstanceConfig } from '../../core/instance-config.js';
import { defineLLMProvider } from '../../core/provider-definition.js';
import { withCompatibleFields } from './openai-client.js';
import { OpenAIChatDriver } from './openai.llm.js';

/** `type: openai-compatible` under `llm:`: any server speaking OpenAI's chat completions (vLLM, Ollama, llama.cpp, LM Studio, ...). */
export class OpenAICompatibleLLMConfig extends withCompatibleFields(LLMInstanceConfig) {
  /** Ask for a final usage chunk (`stream_options.include_usage`) when streaming; set false for servers that refuse it. */
  @IsOptional() @ToBoolean() @IsBoolean() streamUsage?: boolean = true;
}

export const openaiCompatibleLLM = defineLLMProvider({
  type: 'openai-compatible',
  config: OpenAICompatibleLLMConfig,
  description: 'any server speaking OpenAI chat completions (vLLM, Ollama, llama.cpp, LM Studio, ...); baseUrl required',
  create: (config, context) => new OpenAIChatDriver(config, context, { streamUsage: config.streamUsage }),
});
