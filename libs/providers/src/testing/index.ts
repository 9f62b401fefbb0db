/**
 * `@hush/providers/testing`: network-free stand-ins for the library's LLMs, embedders and
 * rerankers, and a module that binds them to the real injection tokens.
 */
export {
  FakeLLM,
  estimateTokens,
  messageText,
  type FakeLLMCall,
  type FakeLLMOptions,
  type FakeReply,
  type FakeReplyFn,
  type FakeReplyValue,
} from './fake-llm.js';
export { FakeEmbedder, type FakeEmbedderCall, type FakeEmbedderOptions } from './fake-embedder.js';
export {
  FakeReranker,
  wordOverlapScore,
  type FakeRerankerCall,
  type FakeRerankerOptions,
  type FakeScoreFn,
} from './fake-reranker.js';
export type { FakeInstanceOptions } from './fake-instance.js';
export { ProvidersTestingModule, type ProvidersTestingModuleOptions } from './providers-testing.module.js';
