import { azureOpenAIEmbedder } from '../providers/azure-openai/azure-openai.embedder.js';
import { cohereEmbedder } from '../providers/cohere/cohere.embedder.js';
import { geminiEmbedder } from '../providers/gemini/gemini.embedder.js';
import { jinaEmbedder } from '../providers/jina/jina.embedder.js';
import { ollamaEmbedder } from '../providers/ollama/ollama.embedder.js';
import { openaiCompatibleEmbedder } from '../providers/openai/openai-compatible.embedder.js';
import { openaiEmbedder } from '../providers/openai/openai.embedder.js';
import { anthropicLLM } from '../providers/anthropic/anthropic.llm.js';
import { azureOpenAILLM } from '../providers/azure-openai/azure-openai.llm.js';
import { geminiLLM } from '../providers/gemini/gemini.llm.js';
import { openaiCompatibleLLM } from '../providers/openai/openai-compatible.llm.js';
import { openaiLLM } from '../providers/openai/openai.llm.js';
import { teiEmbedder } from '../providers/tei/tei.embedder.js';
import { voyageEmbedder } from '../providers/voyage/voyage.embedder.js';
import { cohereReranker } from '../providers/cohere/cohere.reranker.js';
import { jinaReranker } from '../providers/jina/jina.reranker.js';
import { pineconeReranker } from '../providers/pinecone/pinecone.reranker.js';
import { teiReranker } from '../providers/tei/tei.reranker.js';
import { vllmReranker } from '../providers/vllm/vllm.reranker.js';
import { voyageReranker } from '../providers/voyage/voyage.reranker.js';
import { llamaCppEmbedder } from '../providers/llama-cpp/llama-cpp.embedder.js';
import { llamaCppLLM } from '../providers/llama-cpp/llama-cpp.llm.js';
import { llamaCppReranker } from '../providers/llama-cpp/llama-cpp.reranker.js';
import type { AnyProviderDefinition } from '../core/provider-definition.js';

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
