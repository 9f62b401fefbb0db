import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeEmbedder, FakeLLM, FakeReranker, ProvidersTestingModule } from '@hush/providers/testing';
import { ProvidersHealthIndicator, ProvidersHealthModule, type ProvidersHealthOptions } from '../libs/providers/src/health/index.js';
import { startGateway, type GatewayHarness } from './support/gateway-harness.js';

describe('GET /health/ready with a probe', () => {
  let gw: GatewayHarness;
  const probed: string[] = [];

  beforeAll(async () => {
    gw = await startGateway({
      gateway: {
        health: {
          timeoutMs: 500,
          probe: async (instance, { kind, name }) => {
            probed.push(`${kind}:${name}`);
            if (name === 'down') throw new Error('connect ECONNREFUSED (sent Authorization: Bearer sk-live-abcdefghijklmnop)');
            return { reachable: true, upstreamModel: instance.model };
          },
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('is 503 when an instance is down, with one entry per instance and no secret', async () => {
    const res = await fetch(`${gw.url}/health/ready`);
    expect(res.status).toBe(503);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.status).toBe('error');
    expect(Object.keys(body.details)).toHaveLength(6);
    expect(Object.keys(body.error)).toEqual(['llm:down']);
    expect(body.error['llm:down']).toMatchObject({
      status: 'down', kind: 'llm', name: 'down', type: 'openai-compatible', probed: true,
      message: 'connect ECONNREFUSED (sent Authorization: Bearer ***)',
    });
    expect(body.info['llm:chat']).toMatchObject({ status: 'up', probed: true, reachable: true, upstreamModel: 'gpt-4o-mini', responseTime: expect.any(Number) });
    expect(text).not.toContain('sk-live');
    expect(probed.sort()).toEqual(['embedding:docs', 'llm:chat', 'llm:down', 'llm:stalls', 'llm:strict', 'reranker:rerank']);
    // Liveness does not depend on the upstreams.
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });
});

describe('ProvidersHealthIndicator (the library export)', () => {
  async function indicator(options?: ProvidersHealthOptions) {
    const module = await Test.createTestingModule({
      imports: [
        ProvidersTestingModule.forRoot({
          llm: { chat: new FakeLLM({ model: 'fake-chat' }), backup: new FakeLLM() },
          embedding: { docs: new FakeEmbedder({ dimensions: 16 }) },
          reranker: { default: new FakeReranker() },
          defaults: { llm: 'chat' },
        }),
        ProvidersHealthModule.forRoot(options),
      ],
    }).compile();
    return { module, health: module.get(ProvidersHealthIndicator) };
  }

  it('reports every instance from its configuration without a probe', async () => {
    const { module, health } = await indicator();
    expect(await health.check()).toEqual({
      'llm:chat': { status: 'up', kind: 'llm', name: 'chat', type: 'fake', model: 'fake-chat', default: true, probed: false },
      'llm:backup': { status: 'up', kind: 'llm', name: 'backup', type: 'fake', model: 'fake-model', default: false, probed: false },
      'embedding:docs': { status: 'up', kind: 'embedding', name: 'docs', type: 'fake', model: 'fake-embedding', dimensions: 16, default: true, probed: false },
      'reranker:default': { status: 'up', kind: 'reranker', name: 'default', type: 'fake', model: 'fake-rerank', default: true, probed: false },
    });
    expect(Object.keys(await health.check({ kinds: ['reranker'] }))).toEqual(['reranker:default']);
    expect(health.indicators({ kinds: ['llm'] })).toHaveLength(2);
    expect(await health.checkInstance('llm', 'nope')).toEqual({
      'llm:nope': { status: 'down', kind: 'llm', name: 'nope', probed: false, message: 'No llm named "nope" is configured.' },
    });
    await module.close();
  });

  it('marks an instance down when its probe does not answer in time, and aborts the probe', async () => {
    let signal: AbortSignal | undefined;
    const { module, health } = await indicator({
      timeoutMs: 50,
      probe: (_instance, context) => {
        signal = context.signal;
        return new Promise(() => undefined);
      },
    });
    const started = Date.now();
    const result = await health.checkInstance('llm', 'chat');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result['llm:chat']).toMatchObject({ status: 'down', probed: true, message: 'the probe did not answer within 50 ms' });
    expect(signal?.aborted).toBe(true);
    await module.close();
  });

  it('reuses a probe outcome for cacheTtlMs', async () => {
    let calls = 0;
    const { module, health } = await indicator({ cacheTtlMs: 60_000, probe: () => void calls++ });
    const first = await health.checkInstance('embedding', 'docs');
    const second = await health.checkInstance('embedding', 'docs');
    expect(calls).toBe(1);
    expect(first['embedding:docs']).not.toHaveProperty('cachedResponse');
    expect(second['embedding:docs']).toMatchObject({ status: 'up', probed: true, cachedResponse: true });
    await module.close();
  });
});
