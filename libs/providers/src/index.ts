// Module, tokens, decorators
export { ProvidersModule } from './module/providers.module.js';
export { ProvidersCoreModule } from './module/providers-core.module.js';
export type { ProvidersConfig, ProvidersModuleAsyncOptions, ProvidersModuleOptions, DeclaredNames } from './module/providers-options.js';
export { getEmbedderToken, getLLMToken, getProviderToken, getRerankerToken } from './module/tokens.js';
export { InjectEmbedder, InjectLLM, InjectReranker } from './module/decorators.js';

// The three kinds
export { LLM } from './core/llm.js';
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  GenerateBatchOptions,
  GenerateObjectOptions,
  GenerateObjectResult,
  GenerateOptions,
  LLMCallOptions,
  LLMDriver,
  StructuredOutputMode,
} from './core/llm.js';
export { objectSchemaOf, type DtoClass, type JsonSchema, type ObjectSchema } from './core/object-schema.js';
export { Embedder } from './core/embedder.js';
export type {
  EmbedOptions,
  EmbedderBatchResult,
  EmbedderCallOptions,
  EmbedderDriver,
  EmbeddingInputType,
  EmbeddingResult,
  EmbeddingUsage,
  VectorFormat,
  VectorOf,
} from './core/embedder.js';
export { Reranker } from './core/reranker.js';
export type { RerankOptions, RerankResult, RerankerCallOptions, RerankerDriver, RerankerScore } from './core/reranker.js';

// Caches of answers
export { cacheStatus, type CacheStatus } from './managed/answer-cache.js';

// Registry and provider types
export { ProvidersRegistry, NoDefaultInstanceError, UnknownInstanceError } from './registry/providers-registry.js';
export type { InstanceOfKind, InstanceRef, RegistryContents, ReloadResult } from './registry/providers-registry.js';
export type { DefaultChoice } from './config/default-choice.js';
export { PROVIDER_KINDS } from './core/provider-kind.js';
export type { ProviderKind } from './core/provider-kind.js';
export { defineEmbeddingProvider, defineLLMProvider, defineRerankerProvider } from './core/provider-definition.js';
export type { AnyProviderDefinition, DriverContext, ProviderDefinition, ProviderDocs } from './core/provider-definition.js';
export { BUILTIN_PROVIDERS } from './module/builtin-providers.js';

// Config
export {
  EmbeddingInstanceConfig,
  EmbeddingPricing,
  InstanceConfig,
  LLMInstanceConfig,
  LLMPricing,
  CacheConfig,
  RerankerInstanceConfig,
  RerankerPricing,
} from './core/instance-config.js';
export { Secret, ToBoolean, ToNumber } from './core/config-fields.js';
export { ProvidersConfigError } from './core/config-error.js';
export { configKeysOf } from './config/validate-config.js';
export { configJsonSchema } from './config/json-schema.js';
export type { ConfigIssue } from './core/config-error.js';
export { DEFAULT_POLICIES } from './resilience/call-policy.js';
export type { CallPolicy } from './resilience/call-policy.js';
export type { PingResult, ProviderInstance } from './core/provider-instance.js';

// Errors
export { ProviderAbortError, ProviderError, type UpstreamErrorDetail } from './core/provider-error.js';
export { StructuredOutputError } from './core/structured-output-error.js';
export {
  PROVIDER_CALL_CHANNEL,
  PROVIDER_ERROR_CHANNEL,
  PROVIDER_FALLBACK_CHANNEL,
  PROVIDER_RETRY_CHANNEL,
  RELOAD_CHANNEL,
  STORE_CHANNEL,
} from './core/diagnostics.js';
export type { CallEvent, FallbackEvent, ReloadEvent, RetryEvent, StoreEvent } from './core/diagnostics.js';

// Telemetry
export type { InstanceUsage } from './telemetry/usage-summary.js';
export type { TelemetryOptions } from './telemetry/telemetry.js';
export type { ProviderErrorInit } from './core/provider-error.js';

// Built-in provider types and their config classes
export { OpenAILLMConfig, openaiLLM } from './providers/openai/openai.llm.js';
export { OpenAICompatibleLLMConfig, openaiCompatibleLLM } from './providers/openai/openai-compatible.llm.js';
export { OpenAIEmbedderConfig, openaiEmbedder } from './providers/openai/openai.embedder.js';
export { OpenAICompatibleEmbedderConfig, openaiCompatibleEmbedder } from './providers/openai/openai-compatible.embedder.js';
export { AzureOpenAILLMConfig, azureOpenAILLM } from './providers/azure-openai/azure-openai.llm.js';
export { GeminiLLMConfig, geminiLLM } from './providers/gemini/gemini.llm.js';
export { AnthropicLLMConfig, anthropicLLM } from './providers/anthropic/anthropic.llm.js';
export { AzureOpenAIEmbedderConfig, azureOpenAIEmbedder } from './providers/azure-openai/azure-openai.embedder.js';
export { GeminiEmbedderConfig, geminiEmbedder } from './providers/gemini/gemini.embedder.js';
export { TEIEmbedderConfig, teiEmbedder } from './providers/tei/tei.embedder.js';
export { OllamaEmbedderConfig, ollamaEmbedder } from './providers/ollama/ollama.embedder.js';
export { CohereEmbedderConfig, cohereEmbedder } from './providers/cohere/cohere.embedder.js';
export { JinaEmbedderConfig, jinaEmbedder } from './providers/jina/jina.embedder.js';
export { VoyageEmbedderConfig, voyageEmbedder } from './providers/voyage/voyage.embedder.js';
export { CohereRerankerConfig, cohereReranker } from './providers/cohere/cohere.reranker.js';
export { JinaRerankerConfig, jinaReranker } from './providers/jina/jina.reranker.js';
export { VoyageRerankerConfig, voyageReranker } from './providers/voyage/voyage.reranker.js';
export { VllmRerankerConfig, vllmReranker } from './providers/vllm/vllm.reranker.js';
export { TeiRerankerConfig, teiReranker } from './providers/tei/tei.reranker.js';
export { PineconeRerankerConfig, pineconeReranker } from './providers/pinecone/pinecone.reranker.js';
export { LlamaCppLLMConfig, llamaCppLLM } from './providers/llama-cpp/llama-cpp.llm.js';
export { LlamaCppEmbedderConfig, llamaCppEmbedder } from './providers/llama-cpp/llama-cpp.embedder.js';
export { LlamaCppRerankerConfig, llamaCppReranker } from './providers/llama-cpp/llama-cpp.reranker.js';

// Toolkit for provider types: what the built-in HTTP types are made of, for types written outside the library
export { HttpClient } from './http/http-client.js';
export { configValidation } from './core/validation.js';
export type { HttpClientOptions, SseEvent } from './http/http-client.js';
export type { CallSite, HttpCallSite } from './core/call-site.js';
export { HttpEmbedderDriver } from './toolkit/http-embedder.js';
export type { HttpAnswerContext, HttpEmbedderInit, HttpEmbedRequest } from './toolkit/http-embedder.js';
export { HttpRerankerDriver, readRerankScores } from './toolkit/http-reranker.js';
export type { HttpRerankerInit, RerankAnswerShape } from './toolkit/http-reranker.js';
export {
  bearerClientOptions,
  IsHeaderMap,
  mergeHeaders,
  SERVICE_URL_OPTIONS,
  serviceClientOptions,
  withOptionalApiKey,
  withRequiredApiKey,
  withRequiredModel,
  withServiceConnection,
} from './toolkit/service-fields.js';
export type { ServiceAccess, ServiceConnectionConfig } from './toolkit/service-fields.js';
export {
  readBase64OrListVector,
  readIndexedBase64Vectors,
  readIndexedVectors,
  readVector,
  readVectorList,
  readVectorListAt,
  usageOfTokens,
  valueAt,
} from './toolkit/vector-readers.js';
export { UndiciTransport, type UndiciTransportOptions } from './http/undici-transport.js';
export type { HttpTransport, TransportRequest, TransportResponse } from './core/transport.js';
export type { TokenProvider } from './core/provider-definition.js';
export { convertVectors, decodeBase64Rows, encodeBase64, vectorLength } from './core/vectors.js';
