// Module, tokens, decorators
export { ProvidersModule } from './module/providers.module.js';
export { ProvidersCoreModule } from './module/providers-core.module.js';
export type { ProvidersConfig, ProvidersModuleAsyncOptions, ProvidersModuleOptions, DeclaredNames } from './module/providers-options.js';
export { getEmbedderToken, getLLMToken, getProviderToken, getRerankerToken } from './module/tokens.js';
export { InjectEmbedder, InjectLLM, InjectReranker } from './module/decorators.js';

// The three kinds
export { LLM } from './llm/llm.js';
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  GenerateBatchOptions,
  GenerateOptions,
  LLMCallOptions,
  LLMDriver,
} from './llm/llm.js';
export { Embedder } from './embedding/embedder.js';
export type {
  EmbedOptions,
  EmbedderBatchResult,
  EmbedderCallOptions,
  EmbedderDriver,
  EmbeddingInputType,
  EmbeddingResult,
  EmbeddingUsage,
} from './embedding/embedder.js';
export { Reranker } from './reranker/reranker.js';
export type { RerankOptions, RerankResult, RerankerCallOptions, RerankerDriver, RerankerScore } from './reranker/reranker.js';

// Registry and provider types
export { ProvidersRegistry, NoDefaultInstanceError, UnknownInstanceError } from './registry/providers-registry.js';
export type { DefaultChoice, InstanceOfKind, RegistryContents } from './registry/providers-registry.js';
export { PROVIDER_KINDS } from './registry/provider-kind.js';
export type { ProviderKind } from './registry/provider-kind.js';
export { defineEmbeddingProvider, defineLLMProvider, defineRerankerProvider } from './registry/provider-definition.js';
export type { AnyProviderDefinition, DriverContext, ProviderDefinition, ProviderDocs } from './registry/provider-definition.js';
export { BUILTIN_PROVIDERS } from './registry/builtin-providers.js';

// Config
export { EmbeddingInstanceConfig, InstanceConfig, LLMInstanceConfig, RerankerInstanceConfig } from './config/instance-config.js';
export { Secret, ToBoolean, ToNumber } from './config/config-fields.js';
export { ProvidersConfigError } from './config/config-error.js';
export { configKeysOf } from './config/validate-config.js';
export type { ConfigIssue } from './config/config-error.js';
export { DEFAULT_POLICIES } from './resilience/call-policy.js';
export type { CallPolicy } from './resilience/call-policy.js';
export type { PingResult } from './resilience/managed-instance.js';

// Errors
export { ProviderAbortError, ProviderError, type UpstreamErrorDetail } from './errors/provider-error.js';
export { PROVIDER_ERROR_CHANNEL, PROVIDER_FALLBACK_CHANNEL, PROVIDER_RETRY_CHANNEL } from './errors/diagnostics.js';
export type { FallbackEvent, RetryEvent } from './errors/diagnostics.js';
export type { ProviderErrorInit } from './errors/provider-error.js';

// Built-in provider types and their config classes
export { OpenAILLMConfig, openaiLLM } from './llm/openai.llm.js';
export { OpenAICompatibleLLMConfig, openaiCompatibleLLM } from './llm/openai-compatible.llm.js';
export { OpenAIEmbedderConfig, openaiEmbedder } from './embedding/openai.embedder.js';
export { OpenAICompatibleEmbedderConfig, openaiCompatibleEmbedder } from './embedding/openai-compatible.embedder.js';
export { AzureOpenAILLMConfig, azureOpenAILLM } from './llm/azure-openai.llm.js';
export { GeminiLLMConfig, geminiLLM } from './llm/gemini.llm.js';
export { AnthropicLLMConfig, anthropicLLM } from './llm/anthropic.llm.js';
export { AzureOpenAIEmbedderConfig, azureOpenAIEmbedder } from './embedding/azure-openai.embedder.js';
export { GeminiEmbedderConfig, geminiEmbedder } from './embedding/gemini.embedder.js';
export { TEIEmbedderConfig, teiEmbedder } from './embedding/tei.embedder.js';
export { OllamaEmbedderConfig, ollamaEmbedder } from './embedding/ollama.embedder.js';
export { CohereEmbedderConfig, cohereEmbedder } from './embedding/cohere.embedder.js';
export { JinaEmbedderConfig, jinaEmbedder } from './embedding/jina.embedder.js';
export { VoyageEmbedderConfig, voyageEmbedder } from './embedding/voyage.embedder.js';
export { CohereRerankerConfig, cohereReranker } from './reranker/cohere.reranker.js';
export { JinaRerankerConfig, jinaReranker } from './reranker/jina.reranker.js';
export { VoyageRerankerConfig, voyageReranker } from './reranker/voyage.reranker.js';
export { VllmRerankerConfig, vllmReranker } from './reranker/vllm.reranker.js';
export { TeiRerankerConfig, teiReranker } from './reranker/tei.reranker.js';
export { PineconeRerankerConfig, pineconeReranker } from './reranker/pinecone.reranker.js';
export { LlamaCppLLMConfig, llamaCppLLM } from './llama-cpp/llama-cpp.llm.js';
export { LlamaCppEmbedderConfig, llamaCppEmbedder } from './llama-cpp/llama-cpp.embedder.js';
export { LlamaCppRerankerConfig, llamaCppReranker } from './llama-cpp/llama-cpp.reranker.js';

// Building blocks for provider types written outside the library
export { HttpClient } from './http/http-client.js';
export type { HttpClientOptions, SseEvent } from './http/http-client.js';
