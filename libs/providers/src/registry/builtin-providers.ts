import { azureOpenAIEmbedder } from '../embedding/azure-openai.embedder.js';
import { cohereEmbedder } from '../embedding/cohere.embedder.js';
import { geminiEmbedder } from '../embedding/gemini.embedder.js';
import { jinaEmbedder } from '../embedding/jina.embedder.js';
import { ollamaEmbedder } from '../embedding/ollama.embedder.js';
import { openaiCompatibleEmbedder } from '../embedding/openai-compatible.embedder.js';
import { openaiEmbedder } from '../embedding/openai.embedder.js';
import { anthropicLLM } from '../llm/anthropic.llm.js';
import { azureOpenAILLM } from '../llm/azure-openai.llm.js';
import { geminiLLM } from '../llm/gemini.llm.js';
import { openaiCompatibleLLM } from '../llm/openai-compatible.llm.js';
import { openaiLLM } from '../llm/openai.llm.js';
import { teiEmbedder } from '../embedding/tei.embedder.js';
import { voyageEmbedder } from '../embedding/voyage.embedder.js';
import { cohereReranker } from '../reranker/cohere.reranker.js';
import { jinaReranker } from '../reranker/jina.reranker.js';
import { pineconeReranker } from '../reranker/pinecone.reranker.js';
import { teiReranker } from '../reranker/tei.reranker.js';
import { vllmReranker } from '../reranker/vllm.reranker.js';
import { voyageReranker } from '../reranker/voyage.reranker.js';
import { llamaCppEmbedder } from '../llama-cpp/llama-cpp.embedder.js';
import { llamaCppLLM } from '../llama-cpp/llama-cpp.llm.js';
import { llamaCppReranker } from '../llama-cpp/llama-cpp.reranker.js';
import type { AnyProviderDefinition } from './provider-definition.js';

/** Every built-in provider type: adding one is one file and one line here. */
export const BUILTIN_PROVIDERS: readonly AnyProviderDefinition[] = [
  // llm
  openaiLLM,
  openaiCompatibleLLM,
  azureOpenAILLM,
  geminiLLM,
  anthropicLLM,
  llamaCppLLM,
  // embedding
  openaiEmbedder,
  openaiCompatibleEmbedder,
  azureOpenAIEmbedder,
  teiEmbedder,
  ollamaEmbedder,
  cohereEmbedder,
  jinaEmbedder,
  voyageEmbedder,
  geminiEmbedder,
  llamaCppEmbedder,
  // reranker
  cohereReranker,
  jinaReranker,
  voyageReranker,
  vllmReranker,
  teiReranker,
  pineconeReranker,
  llamaCppReranker,
];
