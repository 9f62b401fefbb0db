import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { ProviderError } from '@hush/providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeEmbedder, FakeLLM, FakeReranker, ProvidersTestingModule } from '@hush/providers/testing';
import { ProvidersHealthIndicator, ProvidersHealthModule, type ProvidersHealthOptions } from '../libs/providers/src/health/index.js';
import { capturingLogger, startGateway, type GatewayHarness } from './support/gateway-harness.js';
import { AT_ONCE_MS } from './support/timing.js';

// A configured key of a shape no generic pattern knows: only the registry's own list redacts it.
const VAULT_KEY = 'vault-token-4d5e6f7a8b9c';

describe('GET /health/ready with a probe', () => {
  let gw: GatewayHarness;
  const probed: string[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    gw = await startGateway({
      app: { logger: capturingLogger(lines) },
      extra: (baseUrl) => ({ llm: { vault: { type: 'openai-compatible', baseUrl, apiKey: VAULT_KEY, model: 'gpt-4o-mini' } } }),
      gateway: {
        health: {
          timeoutMs: 500,
          probe: async (instance, { kind, name }) => {
            probed.push(`${kind}:${name}`);
            if (name === 'down')
              throw new Error(`connect ECONNREFUSED 10.1.2.3:8000 (sent Authorization: Bearer sk-live-abcdefghijklmnop, x-vault: ${VAULT_KEY})`);
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
    expect(Object.keys(body.details)).toHaveLength(7);
    expect(Object.keys(body.error)).toEqual(['llm:down']);
    // A probe's own error may say anything (here an address): the public report keeps only that it failed.
    expect(body.error['llm:down']).toMatchObject({
      status: 'down',
      kind: 'llm',
      name: 'down',
      type: 'openai-compatible',
      probed: true,
      error: 'error',
      message: 'the check failed',
    });
    expect(body.info['llm:chat']).toMatchObject({
      status: 'up',
      probed: true,
      reachable: true,
      upstreamModel: 'gpt-4o-mini',
      responseTime: expect.any(Number),
    });
    expect(text).not.toContain('sk-live');
    expect(text).not.toContain('10.1.2.3');
    expect(probed.sort()).toEqual(['embedding:docs', 'llm:chat', 'llm:down', 'llm:stalls', 'llm:strict', 'llm:vault', 'reranker:rerank']);
    // The log has the probe's words, with every configured secret and key shape redacted, and the id
    // of the request that ran the probe.
    const logged = () => lines.filter((l) => l.startsWith('ProvidersHealth:'));
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged()).toEqual([
      `ProvidersHealth: [${id}] llm:down is down (error): connect ECONNREFUSED 10.1.2.3:8000 (sent Authorization: Bearer ***, x-vault: ***)`,
    ]);
    // Polled again (from the cache, or probed again with the same outcome): not logged again.
    await fetch(`${gw.url}/health/ready`);
    expect(logged()).toHaveLength(1);
    expect(lines.join('\n')).not.toContain(VAULT_KEY);
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
      'llm:nope': { status: 'down', kind: 'llm', name: 'nope', probed: false, error: 'not-configured', message: 'No llm named "nope" is configured.' },
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
    // The probe never answers: without its timeout, the check would hang.
    expect(Date.now() - started).toBeLessThan(50 + AT_ONCE_MS);
    expect(result['llm:chat']).toMatchObject({ status: 'down', probed: true, error: 'timeout', message: 'the probe did not answer within 50 ms' });
    expect(signal?.aborted).toBe(true);
    await module.close();
  });

  const refused = () =>
    new ProviderError('llm "chat" (fake): cannot reach http://10.0.3.7:8000/v1 (ECONNREFUSED: connect ECONNREFUSED 10.0.3.7:8000)', {
      instance: 'chat',
      type: 'fake',
      kind: 'llm',
      retryable: true,
      code: 'connection',
    });

  it('reports a failure by its kind, without the upstream address, and logs the full message once', async () => {
    const lines: string[] = [];
    const module = await Test.createTestingModule({
      imports: [
        ProvidersTestingModule.forRoot({ llm: { chat: new FakeLLM(), up: new FakeLLM() } }),
        ProvidersHealthModule.forRoot({
          probe: (_instance, { name }) => {
            if (name === 'chat') throw refused();
          },
        }),
      ],
    })
      .setLogger(capturingLogger(lines))
      .compile();
    const health = module.get(ProvidersHealthIndicator);
    const result = await health.check();
    expect(result['llm:chat']).toMatchObject({ status: 'down', probed: true, error: 'connection', message: 'cannot reach the upstream (ECONNREFUSED)' });
    expect(JSON.stringify(result)).not.toMatch(/10\.0\.3\.7|http:/);
    expect(result['llm:up']).toMatchObject({ status: 'up' });
    await health.check();
    expect(lines.filter((l) => l.startsWith('ProvidersHealth'))).toEqual([
      'ProvidersHealth: llm:chat is down (connection): llm "chat" (fake): cannot reach http://10.0.3.7:8000/v1 (ECONNREFUSED: connect ECONNREFUSED 10.0.3.7:8000)',
    ]);
    await module.close();
  });

  it('detailedErrors: true puts the full (redacted) message in the report, for internal use', async () => {
    const { module, health } = await indicator({
      detailedErrors: true,
      probe: () => {
        throw new Error('GET http://10.0.3.7:8000/v1/models refused Bearer sk-live-abcdefghijklmnop');
      },
    });
    const result = await health.checkInstance('llm', 'chat');
    expect(result['llm:chat']).toMatchObject({
      status: 'down',
      error: 'error',
      message: 'GET http://10.0.3.7:8000/v1/models refused Bearer ***',
    });
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
