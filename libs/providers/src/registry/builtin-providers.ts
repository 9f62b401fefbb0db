import { openaiCompatibleEmbedder } from '../embedding/openai-compatible.embedder.js';
import { openaiEmbedder } from '../embedding/openai.embedder.js';
import { openaiCompatibleLLM } from '../llm/openai-compatible.llm.js';
import { openaiLLM } from '../llm/openai.llm.js';
import type { AnyProviderDefinition } from './provider-definition.js';

/** Every built-in provider type: adding one is one file and one line here. */
export const BUILTIN_PROVIDERS: readonly AnyProviderDefinition[] = [
  openaiLLM,
  openaiCompatibleLLM,
  openaiEmbedder,
  openaiCompatibleEmbedder,
];
