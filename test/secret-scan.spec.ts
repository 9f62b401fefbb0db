import { describe, expect, it } from 'vitest';
import { TEST_SECRET } from './support/secret-scan.js';

describe('the secret scan every test file runs under', () => {
  it('recognises the shapes of the test keys, and not ordinary text', () => {
    for (const key of [
      'sk-test-SECRETKEY0123456789-zq9X',
      'sk-ant-api03-WRONGKEY9876543210-wxyzQRS7',
      'sk-upstream-secret-0123456789abcdef',
      'AIzaSyFAKE-SECRETKEY0123',
    ]) {
      expect(TEST_SECRET.test(key)).toBe(true);
    }
    for (const text of ['llm "chat" (openai): upstream answered 401 Unauthorized: Incorrect API key provided: ***', 'sk-***']) {
      expect(TEST_SECRET.test(text)).toBe(false);
    }
  });
});

describe('the errors the library publishes', () => {
  it('are every ProviderError and ProvidersConfigError, as they are created', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const { PROVIDER_ERROR_CHANNEL, ProviderError, ProvidersConfigError } = await import('@hush/providers');
    const seen: unknown[] = [];
    const listener = (e: unknown) => void seen.push(e);
    subscribe(PROVIDER_ERROR_CHANNEL, listener);
    const a = new ProviderError('x', { instance: 'i', type: 't', retryable: false });
    const b = new ProvidersConfigError([{ message: 'bad' }]);
    unsubscribe(PROVIDER_ERROR_CHANNEL, listener);
    expect(seen).toEqual([a, b]);
  });
});
