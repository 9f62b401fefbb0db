import 'reflect-metadata';
import { inspect } from 'node:util';
import { Test, type TestingModule } from '@nestjs/testing';
import { expect } from 'vitest';
import { ProviderAbortError, ProvidersModule, ProvidersRegistry, type AnyProviderDefinition, type ProvidersConfig } from '@hush/providers';
import { AT_ONCE_MS } from './timing.js';

/**
 * Helpers of the provider specs that go through the public API: boot the module with an inline,
 * YAML-shaped config and the definitions under test, then call through the registry.
 */

export interface Booted {
  module: TestingModule;
  registry: ProvidersRegistry;
  close(): Promise<void>;
}

export async function boot(config: ProvidersConfig, providers: AnyProviderDefinition[], env: Record<string, string> = {}): Promise<Booted> {
  const module = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ configPath: [], env, config, providers })] }).compile();
  return { module, registry: module.get(ProvidersRegistry), close: () => module.close() };
}

/** The error a boot fails with (fails the test when it boots). */
export async function bootError(config: ProvidersConfig, providers: AnyProviderDefinition[], env: Record<string, string> = {}): Promise<any> {
  return rejection(async () => {
    const booted = await boot(config, providers, env);
    await booted.close();
  });
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Runs `fn` and returns what it rejected with (fails the test if it resolved). */
export async function rejection(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Every printable form of an error, its cause included. */
export function printable(err: unknown): string {
  return [String(err), (err as Error).stack, JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })].join('\n');
}

export function expectNoKey(text: string, key: string): void {
  expect(text).not.toContain(key);
  // Fragments: the distinctive middle and the tail that services echo back.
  expect(text).not.toContain(key.slice(8, 20));
  expect(text).not.toContain(key.slice(-4));
}

/**
 * Starts a call, aborts it after `abortAfterMs`, and checks it rejects with an AbortError at once
 * (within AT_ONCE_MS). The call must be one that would otherwise hang (a fake server that never
 * answers, or stops mid-stream), so that an abort that did nothing cannot pass.
 */
export async function expectQuickAbort(start: (signal: AbortSignal) => Promise<unknown>, abortAfterMs = 50): Promise<any> {
  const controller = new AbortController();
  const pending = rejection(() => start(controller.signal));
  await new Promise((r) => setTimeout(r, abortAfterMs));
  const t0 = performance.now();
  controller.abort();
  const err = await pending;
  expect(performance.now() - t0).toBeLessThan(AT_ONCE_MS);
  expect(err).toBeInstanceOf(ProviderAbortError);
  expect(err.name).toBe('AbortError');
  return err;
}
