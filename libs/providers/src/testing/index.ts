/**
 * `@hush/providers/testing`: network-free stand-ins for the library's LLMs, embedders and
 * rerankers, a module that binds them to the real injection tokens, and for authors of provider
 * types: a scripted fake of a service and the conformance suite every built-in HTTP type passes.
 */
export {
  FakeLLM,
  estimateTokens,
  messageText,
  type FakeLLMCall,
  type FakeLLMOptions,
  type FakeObjectReply,
  type FakeToolCallsReply,
  type FakeReply,
  type FakeReplyFn,
  type FakeReplyValue,
} from './fake-llm.js';
export { FakeEmbedder, type FakeEmbedderCall, type FakeEmbedderOptions } from './fake-embedder.js';
export { FakeReranker, wordOverlapScore, type FakeRerankerCall, type FakeRerankerOptions, type FakeScoreFn } from './fake-reranker.js';
export type { FakeInstanceOptions } from './fake-instance.js';
export { ProvidersTestingModule, type ProvidersTestingModuleOptions } from './providers-testing.module.js';
export { ServiceFake, type FakeAnswer, type FakeRequest, type FakeScript, type FakeService } from './service-fake.js';
export { describeProviderConformance, providerConformance, type ConformanceCheck, type ConformanceRunner } from './conformance.js';
export { ConformanceError, type ConformanceFake, type ConformanceOptions, type ConformanceRequest } from './conformance-kit.js';
