import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InjectEmbedder,
  InjectLLM,
  LLM,
  NoDefaultInstanceError,
  ProvidersConfigError,
  ProvidersModule,
  ProvidersRegistry,
  type ProvidersModuleOptions,
} from '@hush/providers';
import { configDir, yaml } from './support/config-files.js';
import { scriptedEmbeddingProvider, scriptedLLMProvider } from './support/scripted-provider.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

function files(content: Record<string, string>) {
  const c = configDir(content);
  cleanups.push(c.cleanup);
  return c;
}

async function boot(options: ProvidersModuleOptions, providers: any[] = []) {
  // Without a folder of its own, a test reads no file: the project's config/providers.yaml stays out.
  const isolated = options.cwd === undefined && options.configPath === undefined ? { ...options, configPath: [] } : options;
  const module = await Test.createTestingModule({ imports: [ProvidersModule.forRoot(isolated)], providers }).compile();
  cleanups.push(() => void module.close());
  return module;
}

async function configError(options: ProvidersModuleOptions): Promise<ProvidersConfigError> {
  const error = await boot(options).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ProvidersConfigError);
  return error as ProvidersConfigError;
}

const OPENAI_KEY = 'sk-test-secret-key-000111';

describe('config files and overlays', () => {
  it('reads config/providers.yaml and deep-merges providers.<environment>.yaml over it', async () => {
    const c = files({
      'config/providers.yaml': yaml`
        llm:
          chat:
            type: openai
            model: gpt-4o-mini
            apiKey: \${OPENAI_API_KEY}
            params: { temperature: 0.2, max_tokens: 100 }
          spare:
            type: openai
            model: gpt-4o
            apiKey: \${OPENAI_API_KEY}
        defaults:
          llm: chat
      `,
      'config/providers.staging.yaml': yaml`
        llm:
          chat:
            type: openai-compatible
            baseUrl: http://127.0.0.1:8080/v1
            model: qwen2.5
            apiKey: null
          spare: null
      `,
    });
    const module = await boot({ cwd: c.dir, environment: 'staging', env: { OPENAI_API_KEY: OPENAI_KEY } });
    const registry = module.get(ProvidersRegistry);
    expect(registry.names('llm')).toEqual(['chat']);
    const chat = registry.llm('chat');
    expect(chat.type).toBe('openai-compatible');
    expect(chat.model).toBe('qwen2.5');
  });

  it('takes the environment from NODE_ENV, and "development" when unset', async () => {
    const c = files({
      'config/providers.yaml': 'llm:\n  chat: { type: openai-compatible, baseUrl: "http://127.0.0.1:1/v1", model: base }\n',
      'config/providers.production.yaml': 'llm:\n  chat: { model: prod }\n',
      'config/providers.development.yaml': 'llm:\n  chat: { model: dev }\n',
    });
    expect((await boot({ cwd: c.dir, env: { NODE_ENV: 'production' } })).get(ProvidersRegistry).llm().model).toBe('prod');
    expect((await boot({ cwd: c.dir, env: {} })).get(ProvidersRegistry).llm().model).toBe('dev');
    expect((await boot({ cwd: c.dir, env: {}, environment: 'test' })).get(ProvidersRegistry).llm().model).toBe('base');
  });

  it('uses PROVIDERS_CONFIG when no configPath is given, with its overlay beside it', async () => {
    const c = files({
      'elsewhere/ai.yaml': 'llm:\n  chat: { type: openai-compatible, baseUrl: "http://127.0.0.1:1/v1", model: a }\n',
      'elsewhere/ai.ci.yaml': 'llm:\n  chat: { model: b }\n',
    });
    const module = await boot({ cwd: c.dir, env: { PROVIDERS_CONFIG: 'elsewhere/ai.yaml', NODE_ENV: 'ci' } });
    expect(module.get(ProvidersRegistry).llm('chat').model).toBe('b');
  });

  it('merges several configPath files in order (later wins), and inline config over all of them', async () => {
    const c = files({
      'a.yaml':
        'llm:\n  chat: { type: openai-compatible, baseUrl: "http://127.0.0.1:1/v1", model: a }\n  other: { type: openai-compatible, baseUrl: "http://127.0.0.1:1/v1", model: o }\n',
      'b.yaml': 'llm:\n  chat: { model: b }\ndefaults: { llm: other }\n',
    });
    const registry = (await boot({ cwd: c.dir, env: {}, configPath: ['a.yaml', 'b.yaml'], config: { llm: { other: { model: 'inline' } as never } } })).get(
      ProvidersRegistry,
    );
    expect(registry.llm('chat').model).toBe('b');
    expect(registry.llm().model).toBe('inline');
  });

  it('takes an empty file as an empty config', async () => {
    const c = files({ 'config/providers.yaml': '# nothing yet\n', 'config/providers.test.yaml': '' });
    const registry = (await boot({ cwd: c.dir, env: {}, environment: 'test' })).get(ProvidersRegistry);
    expect(registry.names('llm')).toEqual([]);
  });

  it('accepts inline config alone, with no file at all', async () => {
    const c = files({});
    const registry = (
      await boot({
        cwd: c.dir,
        env: {},
        config: { embedding: { docs: { type: 'openai', model: 'text-embedding-3-small', apiKey: OPENAI_KEY, dimensions: 512 } } },
      })
    ).get(ProvidersRegistry);
    expect(registry.embedder('docs').dimensions).toBe(512);
  });
});

describe('interpolation', () => {
  it('replaces ${VAR} and ${VAR:-fallback}, keeps $${ literal, and turns numeric strings into numbers for numeric keys', async () => {
    const c = files({
      'config/providers.yaml': yaml`
        embedding:
          docs:
            type: openai-compatible
            baseUrl: http://\${HOST:-127.0.0.1}:\${PORT}/v1
            model: "$\${literal}-\${MODEL:-e5}"
            dimensions: \${DIMS:-384}
            timeoutMs: \${TIMEOUT}
      `,
    });
    const registry = (await boot({ cwd: c.dir, env: { PORT: '9999', TIMEOUT: '1500', MODEL: '' } })).get(ProvidersRegistry);
    const docs = registry.embedder('docs');
    expect(docs.model).toBe('${literal}-e5');
    expect(docs.dimensions).toBe(384);
  });
});

describe('interpolation of inline config', () => {
  it('interpolates inline strings too, and names the key path of an unset variable', async () => {
    const registry = (
      await boot({ env: { M: 'from-env' }, config: { llm: { chat: { type: 'openai-compatible', baseUrl: 'http://h/v1', model: '${M}' } } } })
    ).get(ProvidersRegistry);
    expect(registry.llm('chat').model).toBe('from-env');
    const error = await configError({ env: {}, config: { llm: { chat: { type: 'openai-compatible', baseUrl: 'http://h/v1', model: '${M}' } } } });
    expect(error.issues).toEqual([
      { file: 'inline config', path: 'llm.chat.model', message: 'environment variable M is not set.', hint: 'Set M, or give a fallback: ${M:-value}.' },
    ]);
  });
});

describe('config errors', () => {
  it('names an unset variable with the file, line:column and key path, and how to fix it', async () => {
    const c = files({ 'config/providers.yaml': 'llm:\n  chat:\n    type: openai\n    model: gpt-4o\n    apiKey: ${OPENAI_API_KEY}\n' });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues).toEqual([
      expect.objectContaining({
        file: 'config/providers.yaml',
        line: 5,
        column: 13,
        path: 'llm.chat.apiKey',
        message: 'environment variable OPENAI_API_KEY is not set.',
      }),
    ]);
    expect(error.message).toContain(
      'config/providers.yaml:5:13 llm.chat.apiKey: environment variable OPENAI_API_KEY is not set. Set OPENAI_API_KEY, or give a fallback: ${OPENAI_API_KEY:-value}.',
    );
  });

  it('refuses malformed and unclosed references', async () => {
    const c = files({ 'config/providers.yaml': 'llm:\n  chat:\n    type: openai-compatible\n    baseUrl: "http://${1HOST}/v1"\n    model: "${MODEL"\n' });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues.map((i) => [i.path, i.message])).toEqual([
      ['llm.chat.baseUrl', 'the value has a malformed variable reference "${1HOST}".'],
      ['llm.chat.model', 'the value has an unclosed "${".'],
    ]);
  });

  it('names an unknown type, the known types, and a likely meaning', async () => {
    const c = files({ 'config/providers.yaml': 'llm:\n  chat:\n    type: opnai\n    model: x\n' });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ line: 3, column: 5, path: 'llm.chat.type', message: 'Unknown llm type "opnai".' });
    expect(error.issues[0]!.hint).toBe(
      'Did you mean "openai"? Known llm types: anthropic, azure-openai, gemini, llama-cpp, openai, openai-compatible (register more through forRoot({ providers: [...] })).',
    );
  });

  it('says when a type exists for another kind only', async () => {
    const { definition } = scriptedEmbeddingProvider();
    const error = await configError({ env: {}, config: { llm: { chat: { type: 'embed-only' } } }, providers: [{ ...definition, type: 'embed-only' }] });
    expect(error.issues[0]!.message).toBe('Unknown llm type "embed-only". "embed-only" exists for embedding, not for llm.');
    expect(error.issues[0]!.file).toBe('inline config');
  });

  it('refuses an unknown key (a typo) with the key of the same meaning', async () => {
    const c = files({ 'config/providers.yaml': 'llm:\n  chat:\n    type: openai-compatible\n    baseURL: http://127.0.0.1:1/v1\n    model: m\n' });
    const error = await configError({ cwd: c.dir, env: {} });
    const issue = error.issues.find((i) => i.path === 'llm.chat.baseURL');
    expect(issue).toMatchObject({ line: 4, column: 5, message: 'Unknown key "baseURL" for type "openai-compatible".' });
    expect(issue!.hint).toMatch(/^Did you mean "baseUrl"\? Keys of "openai-compatible": .*baseUrl/);
    // The required baseUrl is missing too, but the typo explains it: it is not reported twice.
    expect(error.issues).toHaveLength(1);
  });

  it('refuses values out of range, naming the value', async () => {
    const c = files({
      'config/providers.yaml': 'embedding:\n  docs:\n    type: openai\n    model: m\n    apiKey: k-123456\n    dimensions: -5\n    timeoutMs: soon\n',
    });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`)).toEqual([
      '6:5 embedding.docs.dimensions: "dimensions" must not be less than 1; got -5.',
      '7:5 embedding.docs.timeoutMs: "timeoutMs" must be an integer number; got "soon".',
    ]);
  });

  it('reports bad YAML with its line and column', async () => {
    const c = files({ 'config/providers.yaml': 'llm:\n  chat:\n    type: openai\n   model: [unclosed\n' });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.issues[0]).toMatchObject({ file: 'config/providers.yaml', line: 4 });
    expect(error.issues[0]!.message).toMatch(/^is not valid YAML: /);
  });

  it('says to quote ${VAR} inside a flow map, where a bare { opens another map', async () => {
    const c = files({ 'config/providers.yaml': 'llm:\n  chat: { type: openai, model: gpt-4o, apiKey: ${OPENAI_API_KEY} }\n' });
    const error = await configError({ cwd: c.dir, env: { OPENAI_API_KEY: 'x' } });
    expect(error.issues[0]).toMatchObject({ line: 2, column: 49, hint: 'Inside { } or [ ], quote a value that holds ${VAR}: "${VAR}".' });
  });

  it('refuses a name written twice in a section', async () => {
    const c = files({
      'config/providers.yaml':
        'llm:\n  chat: { type: openai-compatible, baseUrl: "http://h/v1", model: a }\n  chat: { type: openai-compatible, baseUrl: "http://h/v1", model: b }\n',
    });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues).toEqual([
      expect.objectContaining({
        line: 3,
        column: 3,
        path: 'llm.chat',
        message: 'is written twice; the first is on line 2.',
        hint: 'Each name may appear once per section; rename or remove one.',
      }),
    ]);
  });

  it('refuses a key written twice in an entry, naming its key path and the first one', async () => {
    const c = files({
      'config/providers.yaml':
        'llm:\n  chat:\n    type: openai-compatible\n    baseUrl: http://h/v1\n    model: a\n    params: { temperature: 0.1, temperature: 0.2 }\n',
    });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues).toEqual([
      {
        file: 'config/providers.yaml',
        line: 6,
        column: 33,
        path: 'llm.chat.params.temperature',
        message: 'is written twice; the first is on line 6.',
        hint: 'Each key may appear once in a map; remove one.',
      },
    ]);
  });

  it('refuses defaults naming a missing entry, always', async () => {
    const error = await configError({
      env: {},
      config: { llm: { chat: { type: 'openai-compatible', baseUrl: 'http://h/v1', model: 'a' } }, defaults: { llm: 'chta' } },
    });
    expect(error.issues).toEqual([
      expect.objectContaining({ path: 'defaults.llm', message: 'defaults.llm names "chta", which is not a configured llm entry.', hint: 'Configured: chat.' }),
    ]);
  });

  it('fails on an undecidable default only when something asks for it', async () => {
    const config = {
      llm: {
        a: { type: 'openai-compatible', baseUrl: 'http://h/v1', model: 'a' },
        b: { type: 'openai-compatible', baseUrl: 'http://h/v1', model: 'b' },
      },
    };
    const module = await boot({ env: {}, config });
    expect(() => module.get(ProvidersRegistry).llm()).toThrow(NoDefaultInstanceError);

    @Injectable()
    class WantsDefault {
      constructor(readonly llm: LLM) {}
    }
    const error = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config })], providers: [WantsDefault] })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(NoDefaultInstanceError);
    expect((error as Error).message).toBe(
      'No default LLM: there are 2 llm entries (a, b), none is named "default" and defaults.llm is not set. Set defaults.llm, or inject by name. (asked for by WantsDefault)',
    );
  });

  it('refuses an unknown section, fallbacks to unknown names, to itself, in a cycle, and to another embedding space', async () => {
    const { definition } = scriptedEmbeddingProvider();
    const llm = (model: string, fallbacks: string[]) => ({ type: 'openai-compatible', baseUrl: 'http://h/v1', model, fallbacks });
    const error = await configError({
      env: {},
      providers: [definition],
      config: {
        llms: {},
        llm: { a: llm('a', ['b', 'zz']), b: llm('b', ['a']), c: llm('c', ['c']) },
        embedding: {
          small: { type: 'scripted', model: 'e5', dimensions: 384, fallbacks: ['large'] },
          large: { type: 'scripted', model: 'e5-large', dimensions: 1024 },
        },
      } as never,
    });
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'llms: Unknown section "llms".',
      'llm.a.fallbacks[1]: Fallback "zz" is not a configured llm name.',
      'llm.c.fallbacks[0]: "c" lists itself as a fallback.',
      'llm.b.fallbacks: Fallbacks form a cycle: a → b → a.',
      'embedding.small.fallbacks[0]: Fallback "large" embeds into another space (e5-large/1024) than "small" (e5/384).',
    ]);
    expect(error.issues[0]!.hint).toBe('Did you mean "llm"? Sections: llm, embedding, reranker, defaults, store.');
  });

  it('reports a missing file with what to do', async () => {
    const c = files({});
    const named = await configError({ cwd: c.dir, env: {}, configPath: 'nope.yaml' });
    expect(named.issues).toEqual([expect.objectContaining({ file: 'nope.yaml', message: 'does not exist.' })]);
    const byDefault = await configError({ cwd: c.dir, env: {} });
    expect(byDefault.issues[0]!.hint).toMatch(/^Create config\/providers.yaml, point PROVIDERS_CONFIG/);
  });

  it('never prints a secret, even a misplaced or invalid one', async () => {
    const secret = 'sk-live-abcdefghijklmnop';
    const c = files({ 'config/providers.yaml': `llm:\n  chat:\n    type: openai\n    model: m\n    apiKey: [${secret}]\n    headers: { Authorization: 5 }\n` });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues.find((i) => i.path === 'llm.chat.apiKey')?.message).toContain('got ***');
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.issues)).not.toContain(secret);
  });

  it('names all five mistakes of one config in one error, with positions', async () => {
    const c = files({
      'config/providers.yaml': yaml`
        llm:
          chat:
            type: openai
            model: gpt-4o-mini
            apiKey: \${MISSING_KEY}
            temprature: 0.2
          local:
            type: llamacpp
            model: x
        embedding:
          docs:
            type: openai
            model: text-embedding-3-small
            apiKey: k-123456
            dimensions: -5
        defaults:
          llm: nope
      `,
    });
    const error = await configError({ cwd: c.dir, env: {} });
    expect(error.issues.map((i) => `${i.file}:${i.line}:${i.column} ${i.path}`)).toEqual([
      'config/providers.yaml:5:13 llm.chat.apiKey',
      'config/providers.yaml:6:5 llm.chat.temprature',
      'config/providers.yaml:8:5 llm.local.type',
      'config/providers.yaml:15:5 embedding.docs.dimensions',
      'config/providers.yaml:17:3 defaults.llm',
    ]);
    expect(error.message.split('\n')[0]).toBe('Invalid providers config (5 problems):');
  });

  it('points a problem of an overlay at the overlay file', async () => {
    const c = files({
      'config/providers.yaml': 'llm:\n  chat:\n    type: openai-compatible\n    baseUrl: http://h/v1\n    model: m\n',
      'config/providers.staging.yaml': 'llm:\n  chat:\n    maxRetries: 99\n',
    });
    const error = await configError({ cwd: c.dir, env: {}, environment: 'staging' });
    expect(error.issues).toEqual([
      expect.objectContaining({
        file: 'config/providers.staging.yaml',
        line: 3,
        column: 5,
        path: 'llm.chat.maxRetries',
        message: '"maxRetries" must not be greater than 10; got 99.',
      }),
    ]);
  });
});

describe('deployments', () => {
  it('validates each deployment merged over the keys beside it, pointing at the deployment', async () => {
    const { definition } = scriptedLLMProvider();
    const error = await configError({
      env: {},
      providers: [definition],
      config: {
        llm: {
          chat: {
            type: 'scripted',
            model: 'm',
            timeoutMs: 1000,
            deployments: [
              { label: 'a', weight: 2 },
              { label: 'b', weight: -1, modle: 'x' },
            ],
          },
        },
      },
    });
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'llm.chat.deployments[1].weight: "weight" must be a number above 0; got -1.',
      'llm.chat.deployments[1].modle: Unknown key "modle" for type "scripted".',
    ]);
  });

  it('spreads calls over deployments by weight', async () => {
    const { definition, drivers } = scriptedLLMProvider();
    const module = await boot({
      env: {},
      providers: [definition],
      config: {
        llm: {
          chat: {
            type: 'scripted',
            model: 'm',
            deployments: [
              { label: 'a', weight: 3 },
              { label: 'b', weight: 1 },
            ],
          },
        },
      },
    });
    const chat = module.get(ProvidersRegistry).llm('chat');
    for (let i = 0; i < 400; i++) await chat.generate([{ role: 'user', content: 'x' }]);
    const a = drivers.get('chat/a')!.calls.length;
    const b = drivers.get('chat/b')!.calls.length;
    expect(a + b).toBe(400);
    // 3:1 expected; 400 draws keep the share of "a" within 0.6..0.9 with overwhelming probability.
    expect(a / 400).toBeGreaterThan(0.6);
    expect(a / 400).toBeLessThan(0.9);
  });
});

describe('injection of named instances', () => {
  it('binds every configured name and the defaults of each kind', async () => {
    const { definition } = scriptedEmbeddingProvider();
    @Injectable()
    class Search {
      constructor(
        @InjectLLM('chat') readonly chat: LLM,
        @InjectEmbedder('docs') readonly docs: { name: string },
        @InjectEmbedder() readonly defaultEmbedder: { name: string },
      ) {}
    }
    const module = await boot(
      {
        env: {},
        providers: [definition],
        config: { llm: { chat: { type: 'openai-compatible', baseUrl: 'http://h/v1', model: 'm' } }, embedding: { docs: { type: 'scripted', model: 'e' } } },
      },
      [Search],
    );
    const search = module.get(Search);
    expect(search.chat.name).toBe('chat');
    expect(search.docs.name).toBe('docs');
    expect(search.defaultEmbedder).toBe(search.docs);
  });
});
