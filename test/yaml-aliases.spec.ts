import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ProvidersConfigError, ProvidersModule, ProvidersRegistry } from '@hush/providers';
import { configDir, yaml } from './support/config-files.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

function files(content: Record<string, string>) {
  const c = configDir(content);
  cleanups.push(c.cleanup);
  return c;
}

async function load(dir: string) {
  return Test.createTestingModule({ imports: [ProvidersModule.forRoot({ cwd: dir, env: {} })] })
    .compile()
    .then((module) => {
      cleanups.push(() => void module.close());
      return module;
    });
}

async function configError(dir: string): Promise<ProvidersConfigError> {
  const error = await load(dir).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ProvidersConfigError);
  return error as ProvidersConfigError;
}

/** Nine levels of nine aliases each: a few hundred bytes that stand for 9^9 (387 million) values. */
const BOMB = [
  'a: &a [x, x, x, x, x, x, x, x, x]',
  ...'bcdefghi'.split('').map((name, i) => `${name}: &${name} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`),
  'llm:',
  '  chat: *i',
  '',
].join('\n');

describe('YAML anchors and aliases', () => {
  it('resolves ordinary aliases: a whole entry, a map of params, many times over', async () => {
    const copies = Array.from({ length: 100 }, (_, n) => `  copy${n}: *base`).join('\n');
    const c = files({
      'config/providers.yaml':
        yaml`
        llm:
          base: &base
            type: openai-compatible
            baseUrl: http://127.0.0.1:1/v1
            model: m
            params: &params { temperature: 0.2, top_p: 0.9, max_tokens: 100 }
          tuned:
            type: openai-compatible
            baseUrl: http://127.0.0.1:1/v1
            model: tuned
            params: *params
      ` + `${copies}\ndefaults:\n  llm: base\n`,
    });
    const registry = (await load(c.dir)).get(ProvidersRegistry);
    expect(registry.names('llm')).toHaveLength(102);
    expect(registry.llm('copy99').model).toBe('m');
    expect(registry.llm('tuned').model).toBe('tuned');
  });

  it('refuses an alias inside the value it refers to, at the alias', async () => {
    const c = files({
      'config/providers.yaml':
        'llm:\n  chat: &chat\n    type: openai-compatible\n    baseUrl: http://127.0.0.1:1/v1\n    model: m\n    params: { self: *chat }\n',
    });
    const error = await configError(c.dir);
    expect(error.issues).toEqual([
      {
        file: 'config/providers.yaml',
        line: 6,
        column: 21,
        path: 'llm.chat.params.self',
        message: 'the alias *chat is inside the value it refers to.',
        hint: 'A value cannot contain itself; write out what it should hold.',
      },
    ]);
  });

  /**
   * The bomb is loaded in a child process: a walk that expands it would not return for minutes
   * (and would fill the memory), and a synchronous loop cannot be stopped from inside vitest. The
   * child has 20 s and 512 MB; the load itself must take under 2 s, a bound a busy machine keeps
   * (a bounded walk takes milliseconds) and an expanding walk cannot. The source is loaded through
   * vite, as vitest does.
   */
  it('refuses an alias bomb within 2 s, naming the alias that expands too far', () => {
    const c = files({ 'providers.yaml': BOMB });
    const script = `
      import { runnerImport } from 'vite';
      const { module } = await runnerImport(process.env.LOADER);
      const issues = [];
      const started = performance.now();
      module.loadConfigLayers({ cwd: process.env.DIR, configPath: 'providers.yaml', env: {} }, issues);
      process.stdout.write(JSON.stringify({ ms: performance.now() - started, issues }));
    `;
    const child = spawnSync(process.execPath, ['--max-old-space-size=512', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, LOADER: fileURLToPath(new URL('../libs/providers/src/config/load-config.ts', import.meta.url)), DIR: c.dir },
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    const outcome = child.error
      ? `no answer within 20 s (${child.error.message})`
      : child.status === 0
        ? 'ok'
        : `exit ${child.status ?? child.signal}: ${child.stderr.slice(-500)}`;
    expect(outcome, 'the child loading the bomb').toBe('ok');
    const { ms, issues } = JSON.parse(child.stdout) as { ms: number; issues: unknown[] };
    expect(issues).toEqual([
      {
        file: 'providers.yaml',
        line: 5,
        column: 8,
        path: 'e[0]',
        message: 'expanding the alias *d takes this file past 10000 values.',
        hint: 'Aliases inside anchored values multiply; write the values out, or use fewer aliases.',
      },
    ]);
    expect(ms).toBeLessThan(2000);
  });
});
