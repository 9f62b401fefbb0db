import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { RELOAD_CHANNEL, type ReloadEvent } from '@hush/providers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type GatewayApp } from '../src/app.js';
import { FaultServer } from './fakes/fault-server.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { configDir } from './support/config-files.js';
import { postJson } from './support/gateway-harness.js';

/**
 * A running gateway whose providers YAML changes: with GATEWAY_WATCH_CONFIG (watchConfig) the next
 * call uses the new file, and on SIGHUP too; a call in flight completes on the config it started with.
 */

const KEY = 'sk-test-gateway-reload-0000';
const body = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

let openai: OpenAIFakeServer;
let fault: FaultServer;
let app: GatewayApp | undefined;
const cleanups: Array<() => void> = [];
const events: ReloadEvent[] = [];
const onReload = (event: unknown) => void events.push(event as ReloadEvent);

beforeAll(async () => {
  [openai, fault] = await Promise.all([OpenAIFakeServer.start({ apiKey: KEY }), FaultServer.start()]);
  subscribe(RELOAD_CHANNEL, onReload);
});
afterAll(async () => {
  unsubscribe(RELOAD_CHANNEL, onReload);
  await Promise.all([openai.close(), fault.close()]);
});
beforeEach(() => {
  openai.reset();
  fault.reset();
  events.length = 0;
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  cleanups.splice(0).forEach((f) => f());
});

const yamlFor = (baseUrl: string, model: string) =>
  `llm:\n  chat:\n    type: openai\n    baseUrl: ${baseUrl}\n    apiKey: ${KEY}\n    model: ${model}\n    maxRetries: 0\n`;

async function start(text: string, watchConfig: boolean): Promise<{ url: string; write: (text: string) => void }> {
  const dir = configDir({ 'providers.yaml': text });
  cleanups.push(dir.cleanup);
  app = await createApp(
    { providers: { configPath: dir.path('providers.yaml'), env: {} }, apiKeys: [], watchConfig },
    { logger: false, forceCloseConnections: true },
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { url: `http://127.0.0.1:${port}/v1/chat/completions`, write: (next) => writeFileSync(dir.path('providers.yaml'), next) };
}

async function until(what: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!what()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const sentModels = () => openai.requests.filter((r) => r.pathname.endsWith('/chat/completions')).map((r) => r.body.model);

describe('the gateway reloads its providers config', () => {
  it('with watchConfig: a change to the YAML changes the next call; the call in flight completes', async () => {
    const { url, write } = await start(yamlFor(fault.baseUrl, 'fault-llm'), true);
    fault.next('chat', { kind: 'delay', ms: 400 });
    const inFlight = postJson(url, body);
    await until(() => fault.requests.length === 1, 2_000);
    write(yamlFor(openai.baseUrl, 'gpt-4o'));
    await until(() => events.length === 1, 5_000);
    expect(events).toEqual([{ ok: true, added: [], removed: [], changed: [{ kind: 'llm', name: 'chat', keys: ['baseUrl', 'model'] }], ignored: [] }]);
    const next = await postJson(url, body);
    expect(next.status).toBe(200);
    expect(sentModels()).toEqual(['gpt-4o']);
    const first = await inFlight;
    expect(first.status).toBe(200);
    expect(first.body.model).toBe('chat');
  });

  it('on SIGHUP, without watching: the next call uses the new file; a broken file is refused and the old one serves on', async () => {
    const { url, write } = await start(yamlFor(openai.baseUrl, 'gpt-4o-mini'), false);
    write(yamlFor(openai.baseUrl, 'gpt-4o'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toEqual([]);
    process.emit('SIGHUP', 'SIGHUP');
    await until(() => events.length === 1, 5_000);
    expect((await postJson(url, body)).status).toBe(200);
    write('llm:\n  chat:\n    type: openai\n    model: [not, a, string]\n');
    process.emit('SIGHUP', 'SIGHUP');
    await until(() => events.length === 2, 5_000);
    expect(events[1]).toMatchObject({ ok: false });
    expect((await postJson(url, body)).status).toBe(200);
    expect(sentModels()).toEqual(['gpt-4o', 'gpt-4o']);
  });
});
