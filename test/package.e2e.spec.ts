import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installFreshProject, packLibrary, versionOf } from './support/packed-package.js';

const consumer = join(import.meta.dirname, 'consumer');

/**
 * The published package, as a user gets it: `npm pack`, installed into a fresh Nest 12 project
 * outside this repo, which reads its own YAML and injects an LLM and an embedder by name.
 */
describe('npm pack -w @hush/providers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hush-consumer-'));
  afterAll(() => {
    if (!process.env.KEEP_CONSUMER) rmSync(dir, { recursive: true, force: true });
  });

  it('installs into a fresh Nest 12 project and works there (ESM import, and require(esm))', () => {
    const run = (cmd: string, args: string[], cwd: string) =>
      execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'development' } });

    const tarball = packLibrary(dir);
    expect(tarball).toMatch(/^hush-providers-\d+\.\d+\.\d+\.tgz$/);

    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'ES2023',
          strict: true,
          outDir: 'dist',
          rootDir: 'src',
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          skipLibCheck: false,
          types: ['node'],
        },
        include: ['src'],
      }),
    );
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'config'));
    copyFileSync(join(consumer, 'main.ts'), join(dir, 'src', 'main.ts'));
    copyFileSync(join(consumer, 'providers.yaml'), join(dir, 'config', 'providers.yaml'));
    copyFileSync(join(consumer, 'cjs-check.cjs'), join(dir, 'cjs-check.cjs'));
    copyFileSync(join(consumer, 'lean-import.mjs'), join(dir, 'lean-import.mjs'));

    installFreshProject(dir, tarball, { devDependencies: { typescript: versionOf('typescript'), '@types/node': versionOf('@types/node') } });
    // The package's types must compile in the user's project (skipLibCheck off).
    run(join(dir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], dir);
    const out = JSON.parse(run('node', ['dist/main.js'], dir).trim()) as Record<string, unknown>;
    expect(out).toEqual({
      chat: ['chat', 'openai-compatible', 'tiny-chat'],
      docs: ['docs', 'openai', 'text-embedding-3-small', 256],
      answer: 'pong from /v1/chat/completions',
    });
    expect(JSON.parse(run('node', ['cjs-check.cjs'], dir).trim())).toEqual({ cjs: 'function', testing: 'function' });
    // Importing the package loads none of the heavy modules it needs later (validation, YAML, HTTP).
    expect(JSON.parse(run('node', ['lean-import.mjs'], dir).trim())).toEqual([]);
  }, 240_000);
});
