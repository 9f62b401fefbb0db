import 'reflect-metadata';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  getLLMToken,
  LLM,
  ProvidersConfigError,
  ProvidersModule,
  ProvidersRegistry,
  RELOAD_CHANNEL,
  UnknownInstanceError,
  type ProvidersModuleOptions,
  type ReloadEvent,
} from '@hush/providers';
import { FaultServer } from './fakes/fault-server.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { configDir, yaml } from './support/config-files.js';

/**
 * Reading the config again without a restart (`ProvidersRegistry.reload()`, `forRoot({ watch: true })`):
 * changed entries apply to new calls on the same injected objects, calls in flight end where they
 * started, new names appear, removed ones fail clearly, an invalid config changes nothing.
 */

const KEY = 'sk-test-reload-key-0000';
const NEW_KEY = 'sk-test-reload-key-1111';
const user = [{ role: 'user' as const, content: 'hello there' }];

let openai: OpenAIFakeServer;
let rotated: OpenAIFakeServer;
let fault: FaultServer;
let module: TestingModule | undefined;
const cleanups: Array<() => void> = [];
const events: ReloadEvent[] = [];
const onReload = (event: unknown) => void events.push(event as ReloadEvent);

beforeAll(async () => {
  [openai, rotated, fault] = await Promise.all([OpenAIFakeServer.start({ apiKey: KEY }), OpenAIFakeServer.start({ apiKey: NEW_KEY }), FaultServer.start()]);
  subscribe(RELOAD_CHANNEL, onReload);
});
afterAll(async () => {
  unsubscribe(RELOAD_CHANNEL, onReload);
  await Promise.all([openai.close(), rotated.close(), fault.close()]);
});
beforeEach(() => {
  openai.reset();
  rotated.reset();
  fault.reset();
  events.length = 0;
});
afterEach(async () => {
  await module?.close();
  module = undefined;
  cleanups.splice(0).forEach((f) => f());
});

function chat(model: string, extra = '', baseUrl = openai.baseUrl, key = KEY): string {
  return yaml`
    llm:
      chat:
        type: openai
        baseUrl: ${baseUrl}
        apiKey: ${key}
        model: ${model}
        maxRetries: 0
    ${extra}
  `;
}

async function boot(text: string, options: Partial<ProvidersModuleOptions> = {}) {
  const dir = configDir({ 'config/providers.yaml': text });
  cleanups.push(dir.cleanup);
  module = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ cwd: dir.dir, env: {}, ...options })] }).compile();
  module.useLogger(false);
  const write = (next: string) => writeFileSync(dir.path('config/providers.yaml'), next);
  return { registry: module.get(ProvidersRegistry), write, module };
}

const sentModels = (server: OpenAIFakeServer) => server.requests.filter((r) => r.pathname.endsWith('/chat/completions')).map((r) => r.body.model);

describe('ProvidersRegistry.reload()', () => {
  it('applies a changed key to the next call, on the same injected object, and says what changed (key names only)', async () => {
    const { registry, write, module } = await boot(chat('gpt-4o-mini'));
    const injected = module.get<LLM>(getLLMToken('chat'));
    await injected.generate(user);
    write(chat('gpt-4o'));
    expect(await registry.reload()).toEqual({ added: [], removed: [], changed: [{ kind: 'llm', name: 'chat', keys: ['model'] }], ignored: [] });
    expect(module.get<LLM>(getLLMToken('chat'))).toBe(injected);
    expect(registry.llm('chat')).toBe(injected);
    expect(injected.model).toBe('gpt-4o');
    await injected.generate(user);
    expect(sentModels(openai)).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(events).toEqual([{ ok: true, added: [], removed: [], changed: [{ kind: 'llm', name: 'chat', keys: ['model'] }], ignored: [] }]);
  });

  it('rotates an API key for the next call; the event names the key, never its value', async () => {
    const { registry, write } = await boot(chat('gpt-4o-mini', '', rotated.baseUrl, KEY));
    await expect(registry.llm('chat').generate(user)).rejects.toMatchObject({ status: 401 });
    write(chat('gpt-4o-mini', '', rotated.baseUrl, NEW_KEY));
    expect((await registry.reload()).changed).toEqual([{ kind: 'llm', name: 'chat', keys: ['apiKey'] }]);
    await registry.llm('chat').generate(user);
    expect(sentModels(rotated)).toEqual(['gpt-4o-mini', 'gpt-4o-mini']);
    expect(JSON.stringify(events)).not.toContain(NEW_KEY);
    // The new key is one of the secrets redact() replaces.
    expect(registry.redact(`key ${NEW_KEY}`)).toBe('key ***');
  });

  it('lets a call in flight end on the instance it started on, while the next call uses the new config', async () => {
    const { registry, write } = await boot(chat('fault-llm', '', fault.baseUrl));
    fault.next('chat', { kind: 'delay', ms: 300 });
    const inFlight = registry.llm('chat').generate(user);
    await new Promise((resolve) => setTimeout(resolve, 50));
    write(chat('gpt-4o', '', rotated.baseUrl, NEW_KEY));
    const result = await registry.reload();
    expect(result.changed).toEqual([{ kind: 'llm', name: 'chat', keys: ['apiKey', 'baseUrl', 'model'] }]);
    expect(JSON.stringify(events)).not.toContain(NEW_KEY);
    await registry.llm('chat').generate(user);
    expect(sentModels(rotated)).toEqual(['gpt-4o']);
    // The first call, sent before the reload, still answers from where it went.
    expect((await inFlight).choices[0]!.message.content).toBeTruthy();
    expect(fault.requests.filter((r) => r.route === 'chat')).toHaveLength(1);
  });

  it('refuses an invalid config with the bootstrap’s error; the running config stays', async () => {
    const { registry, write } = await boot(chat('gpt-4o-mini'));
    write(chat('gpt-4o-mini').replace('maxRetries: 0', 'maxRetries: many'));
    const error = await registry.reload().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvidersConfigError);
    expect((error as ProvidersConfigError).issues.map((i) => `${i.file}:${i.line} ${i.path}`)).toEqual(['config/providers.yaml:7 llm.chat.maxRetries']);
    expect(events).toEqual([{ ok: false, error: (error as Error).message }]);
    await registry.llm('chat').generate(user);
    expect(sentModels(openai)).toEqual(['gpt-4o-mini']);
  });

  it('adds new names (reachable through the registry) and retires removed ones: their objects fail every call, saying why', async () => {
    const entry = (name: string, model: string) => `  ${name}:\n    type: openai\n    baseUrl: ${openai.baseUrl}\n    apiKey: ${KEY}\n    model: ${model}\n`;
    const { registry, write, module } = await boot(`${chat('gpt-4o-mini')}${entry('spare', 'gpt-4o')}`);
    const spare = module.get<LLM>(getLLMToken('spare'));
    write(`${chat('gpt-4o-mini')}${entry('extra', 'o3-mini')}`);
    expect(await registry.reload()).toEqual({ added: [{ kind: 'llm', name: 'extra' }], removed: [{ kind: 'llm', name: 'spare' }], changed: [], ignored: [] });
    expect(registry.names('llm')).toEqual(['chat', 'extra']);
    await registry.llm('extra').generate(user);
    expect(sentModels(openai)).toEqual(['o3-mini']);
    await expect(spare.generate(user)).rejects.toMatchObject({
      code: 'removed',
      retryable: false,
      message: 'llm "spare" was removed from the providers config by a reload: new calls fail. Put it back in the YAML, or stop using it.',
    });
    const streaming = (async () => {
      for await (const _ of spare.stream(user)) void _;
    })();
    await expect(streaming).rejects.toMatchObject({ code: 'removed' });
    expect(() => registry.llm('spare')).toThrow(UnknownInstanceError);
    expect(spare.name).toBe('spare');
  });

  it('points an unchanged instance’s fallbacks at the new instance of a changed name', async () => {
    const text = (backupModel: string) =>
      yaml`
        llm:
          main:
            type: openai-compatible
            baseUrl: ${fault.baseUrl}
            model: fault-llm
            maxRetries: 0
            fallbacks: [backup]
          backup:
            type: openai
            baseUrl: ${openai.baseUrl}
            apiKey: ${KEY}
            model: ${backupModel}
            maxRetries: 0
      `;
    const { registry, write } = await boot(text('gpt-4o-mini'));
    write(text('gpt-4o'));
    expect((await registry.reload()).changed).toEqual([{ kind: 'llm', name: 'backup', keys: ['model'] }]);
    fault.next('chat', { kind: 'status', status: 503 });
    await registry.llm('main').generate(user);
    expect(sentModels(openai)).toEqual(['gpt-4o']);
  });

  it('leaves a changed store: section for the next start, and says so', async () => {
    const { registry, write } = await boot(chat('gpt-4o-mini'));
    write(`${chat('gpt-4o-mini')}store:\n  type: redis\n  url: redis://127.0.0.1:9\n`);
    expect(await registry.reload()).toEqual({ added: [], removed: [], changed: [], ignored: ['store (takes effect at the next start)'] });
  });
});

describe('reload() refusals', () => {
  it('on a closed registry, and on one made without a config to read again', async () => {
    const { registry, module } = await boot(chat('gpt-4o-mini'));
    await module.close();
    await expect(registry.reload()).rejects.toThrow(new Error('The providers registry is closed: nothing to reload.'));
    const handMade = new ProvidersRegistry({
      instances: { llm: new Map(), embedding: new Map(), reranker: new Map() },
      defaults: { llm: { problem: 'none' }, embedding: { problem: 'none' }, reranker: { problem: 'none' } },
    });
    await expect(handMade.reload()).rejects.toThrow(new Error('This registry was not made from a config that can be read again.'));
  });
});

describe('forRoot({ watch: true })', () => {
  it('reloads when the YAML file is written: the next call uses the new config', async () => {
    const { registry, write } = await boot(chat('gpt-4o-mini'), { watch: true });
    write(chat('gpt-4o'));
    const deadline = performance.now() + 5_000;
    while (!events.length && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(events).toEqual([{ ok: true, added: [], removed: [], changed: [{ kind: 'llm', name: 'chat', keys: ['model'] }], ignored: [] }]);
    await registry.llm('chat').generate(user);
    expect(sentModels(openai)).toEqual(['gpt-4o']);
  });

  it('does not watch by default', async () => {
    const { write } = await boot(chat('gpt-4o-mini'));
    write(chat('gpt-4o'));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(events).toEqual([]);
  });
});
