/* eslint-disable no-control-regex -- a terminal's output is matched by its escape sequences */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_PROVIDERS, ProvidersConfigError, ProvidersModule } from '@hush/providers';
import { configJsonSchema } from '../libs/providers/src/config/json-schema.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';
import { installFreshProject, packLibrary } from './support/packed-package.js';

/**
 * `hush-providers`, run as a user runs it: the bin of the packed package, installed into a fresh
 * project outside this repository. Exit codes and every byte of output are checked.
 */
const root = join(import.meta.dirname, '..');
const corpus = join(import.meta.dirname, 'fixtures', 'bad-config');
const dir = mkdtempSync(join(tmpdir(), 'hush-cli-'));
const bin = join(dir, 'node_modules', '.bin', 'hush-providers');

const API_KEY = 'sk-test-cli-key-0001';
const HEADER_TOKEN = 'sk-test-cli-header-0002';
const REDIS_PASSWORD = 'redis-pass-0003';
/** Every variable config/examples/all-types.yaml and the production overlay name. */
const EXAMPLE_KEYS = Object.fromEntries(
  ['OPENAI_API_KEY', 'AZURE_OPENAI_API_KEY', 'GEMINI_API_KEY', 'ANTHROPIC_API_KEY', 'COHERE_API_KEY', 'JINA_API_KEY', 'VOYAGE_API_KEY', 'PINECONE_API_KEY'].map(
    (name, i) => [name, `sk-test-example-${String(i).padStart(4, '0')}`],
  ),
);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with only the variables given (no NODE_ENV, no PROVIDERS_CONFIG from the test run). */
function run(file: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd ?? dir, encoding: 'utf8', env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...options.env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}
const cli = (args: string[], options?: { cwd?: string; env?: Record<string, string> }) => run(bin, args, options);

/** The error the application's bootstrap throws for these forRoot options. */
async function bootstrapError(options: Parameters<typeof ProvidersModule.forRoot>[0]): Promise<ProvidersConfigError> {
  const error = await Test.createTestingModule({ imports: [ProvidersModule.forRoot(options)] })
    .compile()
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  expect(error).toBeInstanceOf(ProvidersConfigError);
  return error as ProvidersConfigError;
}

/** A port nothing listens on (taken, then given back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function writeConfig(name: string, yaml: string): string {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'providers.yaml'), yaml);
  return `${name}/providers.yaml`;
}

// A third-party type, as a user's own module (plain JavaScript against the installed package).
const ECHO_MODULE = `import { defineLLMProvider, LLMInstanceConfig, withRequiredModel } from '@hush/providers';

export class EchoConfig extends withRequiredModel(LLMInstanceConfig) {}

export const echoLLM = defineLLMProvider({
  type: 'echo',
  config: EchoConfig,
  create: (config) => ({
    model: config.model,
    generate: async () => { throw new Error('not used'); },
    stream: async function* () {},
    ping: async () => {},
  }),
});
`;

beforeAll(() => {
  installFreshProject(dir, packLibrary(dir));
  cpSync(join(root, 'config'), join(dir, 'config'), { recursive: true });
  writeFileSync(join(dir, 'echo-providers.mjs'), ECHO_MODULE);
  writeFileSync(join(dir, 'no-providers.mjs'), 'export const answer = 42;\n');
}, 300_000);
afterAll(() => {
  if (!process.env.KEEP_CONSUMER) rmSync(dir, { recursive: true, force: true });
});

describe('hush-providers check', () => {
  it('lists the instances of config/providers.yaml (the default file) and exits 0', async () => {
    expect(await cli(['check'])).toEqual({
      code: 0,
      stdout: [
        'llm        chat    llama-cpp  models/chat.gguf',
        'embedding  embed   llama-cpp  models/embedding.gguf',
        'reranker   rerank  llama-cpp  models/reranker.gguf',
        '',
      ].join('\n'),
      stderr: '',
    });
  });

  it('reads the overlay of --env, and of NODE_ENV when --env is not given', async () => {
    const production = [
      'llm        chat    openai  gpt-4o-mini',
      'embedding  embed   openai  text-embedding-3-small',
      'reranker   rerank  cohere  rerank-v3.5',
      '',
    ].join('\n');
    expect(await cli(['check', '--env', 'production'], { env: EXAMPLE_KEYS })).toEqual({ code: 0, stdout: production, stderr: '' });
    expect(await cli(['check'], { env: { ...EXAMPLE_KEYS, NODE_ENV: 'production' } })).toEqual({ code: 0, stdout: production, stderr: '' });
  });

  it('reads PROVIDERS_CONFIG when --config is not given, and --config over it', async () => {
    const fromVariable = await cli(['check'], { env: { ...EXAMPLE_KEYS, PROVIDERS_CONFIG: 'config/examples/all-types.yaml' } });
    expect(fromVariable.code).toBe(0);
    expect((await cli(['check', '--config', 'config/examples/all-types.yaml'], { env: EXAMPLE_KEYS })).stdout).toBe(fromVariable.stdout);
    expect((await cli(['check', '-c', 'config/providers.yaml'], { env: { PROVIDERS_CONFIG: 'config/examples/all-types.yaml' } })).stdout).toMatch(
      /^llm {8}chat {4}llama-cpp/,
    );
  });

  it('lists every entry of config/examples/all-types.yaml: kind, name, type, model', async () => {
    const { code, stdout, stderr } = await cli(['check', '--config', 'config/examples/all-types.yaml'], { env: EXAMPLE_KEYS });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const yaml = parse(readFileSync(join(root, 'config/examples/all-types.yaml'), 'utf8')) as Record<string, Record<string, Record<string, string>>>;
    const expected = (['llm', 'embedding', 'reranker'] as const).flatMap((kind) =>
      Object.entries(yaml[kind]!).map(([name, e]) => [kind, name, e.type, e.model ?? e.deployment ?? '-']),
    );
    expect(expected.length).toBeGreaterThan(20);
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((line) => line.split(/ {2,}/)),
    ).toEqual(expected);
    // Aligned columns: every line has its type at the same place.
    expect(
      new Set(
        stdout
          .trimEnd()
          .split('\n')
          .map((line) => /^\S+ +\S+ +/.exec(line)![0].length),
      ),
    ).toHaveLength(1);
  });

  it('exits 1 with the bootstrap error, word for word, on every file of the bad-config corpus', async () => {
    const files = readdirSync(corpus).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(40);
    const runs = await inBatches(files, 4, (file) => cli(['check', '--config', file], { cwd: corpus, env: { HUSH_CORPUS_EMPTY: '' } }));
    for (const [i, file] of files.entries()) {
      const expected = await bootstrapError({ cwd: corpus, configPath: file, env: { HUSH_CORPUS_EMPTY: '' } });
      expect(runs[i], file).toEqual({ code: 1, stdout: '', stderr: `${expected.message}\n` });
    }
  }, 180_000);

  it('exits 1 naming a --config file that does not exist', async () => {
    expect(await cli(['check', '--config', 'nowhere.yaml'])).toEqual({
      code: 1,
      stdout: '',
      stderr: `${(await bootstrapError({ cwd: dir, configPath: 'nowhere.yaml' })).message}\n`,
    });
  });

  it('takes third-party types from --providers (a module of the working directory)', async () => {
    const config = writeConfig('echo', 'llm:\n  talk:\n    type: echo\n    model: echo-1\n');
    const without = await cli(['check', '--config', config]);
    expect(without.code).toBe(1);
    expect(without.stderr).toBe(`${(await bootstrapError({ cwd: dir, configPath: config })).message}\n`);
    expect(await cli(['check', '--config', config, '--providers', './echo-providers.mjs'])).toEqual({
      code: 0,
      stdout: 'llm  talk  echo  echo-1\n',
      stderr: '',
    });
    expect(await cli(['check', '--config', config, '--providers', 'echo-providers.mjs', '--ping'])).toEqual({
      code: 0,
      stdout: 'llm  talk  echo  echo-1  reachable\n1 reachable.\n',
      stderr: '',
    });
  });
});

describe('hush-providers check --ping', () => {
  let fake: OpenAIFakeServer;
  beforeAll(async () => void (fake = await OpenAIFakeServer.start({ apiKey: API_KEY })));
  afterAll(() => fake.close());

  const pingConfig = (chatUrl: string) =>
    writeConfig(
      `ping-${chatUrl.replace(/\W/g, '')}`,
      `llm:
  chat:
    type: openai-compatible
    baseUrl: ${chatUrl}
    model: tiny-chat
    apiKey: \${UPSTREAM_KEY}
embedding:
  docs:
    type: openai
    baseUrl: ${fake.baseUrl}
    model: text-embedding-3-small
    apiKey: \${UPSTREAM_KEY}
reranker:
  paid:
    type: voyage
    model: rerank-2.5
    apiKey: \${UPSTREAM_KEY}
`,
    );

  it('exits 0 when every instance answers; one without a free check is "not checked"', async () => {
    const config = pingConfig(fake.baseUrl);
    expect(await cli(['check', '--ping', '--config', config], { env: { UPSTREAM_KEY: API_KEY } })).toEqual({
      code: 0,
      stdout: [
        'llm        chat  openai-compatible  tiny-chat               reachable',
        'embedding  docs  openai             text-embedding-3-small  reachable',
        'reranker   paid  voyage             rerank-2.5              not checked (its type has no free check)',
        '2 reachable, 1 not checked.',
        '',
      ].join('\n'),
      stderr: '',
    });
    // The checks were free: two GET /v1/models with the key, nothing billed.
    expect(fake.requests.map((r) => `${r.method} ${r.pathname}`)).toEqual(['GET /v1/models', 'GET /v1/models']);
  });

  it('exits 2 naming the instance that does not answer (a closed port)', async () => {
    const port = await closedPort();
    const config = pingConfig(`http://127.0.0.1:${port}/v1`);
    const result = await cli(['check', '--ping', '--config', config], { env: { UPSTREAM_KEY: API_KEY } });
    expect(result).toEqual({
      code: 2,
      stdout: [
        `llm        chat  openai-compatible  tiny-chat               unreachable: llm "chat" (openai-compatible): cannot reach http://127.0.0.1:${port}/v1 (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port})`,
        'embedding  docs  openai             text-embedding-3-small  reachable',
        'reranker   paid  voyage             rerank-2.5              not checked (its type has no free check)',
        '1 reachable, 1 not checked, 1 unreachable.',
        '',
      ].join('\n'),
      stderr: 'Unreachable: llm.chat\n',
    });
  });

  it('on a terminal, redraws the lines in place (spinner, then ✓ ✗ –); piped, writes plain lines', async () => {
    const port = await closedPort();
    const config = pingConfig(`http://127.0.0.1:${port}/v1`);
    // `script` gives the command a pseudo-terminal and passes its exit code on (-e).
    const tty = await run('script', ['-qfec', `'${bin}' check --ping --config ${config}`, '/dev/null'], { env: { UPSTREAM_KEY: API_KEY, TERM: 'xterm' } });
    expect(tty.code).toBe(2);
    const screen = tty.stdout;
    expect(screen.startsWith('\x1b[?25l')).toBe(true);
    expect(screen).toMatch(/\x1b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\x1b\[39m llm {8}chat {2}openai-compatible {2}tiny-chat {15}checking…/);
    // Each drawing is moved over (cursor up over the rows it took, cleared to the end) and drawn again.
    const redraws = [...screen.matchAll(/\x1b\[(\d+)A\r\x1b\[J/g)];
    expect(redraws[0]![1]).toBe('3');
    const last = screen.slice(redraws.at(-1)!.index);
    expect(last).toContain('\x1b[31m✗\x1b[39m llm        chat  openai-compatible  tiny-chat               unreachable: llm "chat"');
    expect(last).toContain('\x1b[32m✓\x1b[39m embedding  docs  openai             text-embedding-3-small  reachable');
    expect(last).toContain('\x1b[90m–\x1b[39m reranker   paid  voyage             rerank-2.5              not checked');
    expect(last).toContain('\x1b[?25h1 reachable, 1 not checked, 1 unreachable.');
    expect(screen).toContain('Unreachable: llm.chat');

    const piped = await cli(['check', '--ping', '--config', config], { env: { UPSTREAM_KEY: API_KEY } });
    expect(piped.code).toBe(2);
    expect(piped.stdout + piped.stderr).not.toMatch(/[\r\x1b⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✓✗]/);
  });

  it('NO_COLOR keeps the redrawing but drops the colours', async () => {
    const config = pingConfig(fake.baseUrl);
    const tty = await run('script', ['-qfec', `'${bin}' check --ping --config ${config}`, '/dev/null'], {
      env: { UPSTREAM_KEY: API_KEY, TERM: 'xterm', NO_COLOR: '1' },
    });
    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(/\x1b\[\d+A\r\x1b\[J✓ llm {8}chat {2}openai-compatible/);
    expect(tty.stdout).not.toMatch(/\x1b\[\d+m/);
  });
});

describe('hush-providers print', () => {
  it('prints the resolved config as YAML, overlay merged and variables filled in, every secret as ***', async () => {
    const config = writeConfig(
      'print',
      `llm:
  chat:
    type: openai-compatible
    baseUrl: \${CHAT_URL}
    model: tiny-chat
    apiKey: \${UPSTREAM_KEY}
    headers: { X-Team-Token: "\${HEADER_TOKEN}" }
    deployments:
      - { weight: 2 }
      - { baseUrl: http://127.0.0.1:9/v1, apiKey: "\${UPSTREAM_KEY}" }
embedding:
  docs:
    type: openai
    model: text-embedding-3-small
    apiKey: \${UPSTREAM_KEY}
store:
  type: redis
  url: redis://:\${REDIS_PASSWORD}@127.0.0.1:6390/2
`,
    );
    writeFileSync(join(dir, 'print', 'providers.staging.yaml'), 'embedding:\n  docs:\n    dimensions: 256\n');
    const env = { CHAT_URL: 'http://127.0.0.1:8/v1', UPSTREAM_KEY: API_KEY, HEADER_TOKEN, REDIS_PASSWORD };
    const result = await cli(['print', '--config', config, '--env', 'staging'], { env });
    expect(result).toEqual({
      code: 0,
      stdout: `# print/providers.yaml + print/providers.staging.yaml (environment: staging); secrets shown as ***
llm:
  chat:
    type: openai-compatible
    baseUrl: http://127.0.0.1:8/v1
    model: tiny-chat
    apiKey: "***"
    headers:
      X-Team-Token: "***"
    deployments:
      - weight: 2
      - baseUrl: http://127.0.0.1:9/v1
        apiKey: "***"
embedding:
  docs:
    type: openai
    model: text-embedding-3-small
    apiKey: "***"
    dimensions: 256
store:
  type: redis
  url: redis://:***@127.0.0.1:6390/2
`,
      stderr: '',
    });
    for (const secret of [API_KEY, HEADER_TOKEN, REDIS_PASSWORD]) expect(result.stdout).not.toContain(secret);
  });

  it('exits 1 with the bootstrap error when the config is invalid', async () => {
    const file = '47-secret-of-wrong-type.yaml';
    expect(await cli(['print', '--config', file], { cwd: corpus, env: { HUSH_CORPUS_EMPTY: '' } })).toEqual({
      code: 1,
      stdout: '',
      stderr: `${(await bootstrapError({ cwd: corpus, configPath: file, env: { HUSH_CORPUS_EMPTY: '' } })).message}\n`,
    });
  });
});

describe('hush-providers schema', () => {
  const expected = `${JSON.stringify(configJsonSchema(BUILTIN_PROVIDERS), null, 2)}\n`;

  it('prints the JSON Schema of the built-in types (draft 2020-12), or writes it to --out (folders made)', async () => {
    const printed = await cli(['schema']);
    expect(printed).toEqual({ code: 0, stdout: expected, stderr: '' });
    expect(JSON.parse(printed.stdout).$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(await cli(['schema', '--out', 'out/schema.json'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(join(dir, 'out/schema.json'), 'utf8')).toBe(expected);
  });

  it('includes the types of --providers', async () => {
    const { code, stdout } = await cli(['schema', '--providers', './echo-providers.mjs']);
    expect(code).toBe(0);
    expect(Object.keys((JSON.parse(stdout) as { $defs: object }).$defs)).toContain('llm.echo');
    expect(Object.keys((JSON.parse(expected) as { $defs: object }).$defs)).not.toContain('llm.echo');
  });
});

describe('hush-providers arguments', () => {
  it('--help lists the commands and the exit codes; each command has its own', async () => {
    const help = await cli(['--help']);
    expect(help).toEqual({
      code: 0,
      stdout: `Usage: hush-providers [options] [command]

Checks, prints and describes the @hush/providers config.

Options:
  -V, --version     output the version number
  -h, --help        display help for command

Commands:
  check [options]   Validates the config as the application does at bootstrap;
                    lists every instance (kind, name, type, model).
  print [options]   Prints the resolved config as YAML: overlays merged, \${VAR}s
                    filled in, every secret as ***.
  schema [options]  Prints the config's JSON Schema (draft 2020-12), for editors
                    and CI.
  help [command]    display help for command

Exit codes: 0 valid (and reachable), 1 invalid config, 2 an instance unreachable (check --ping), 64 bad arguments.
`,
      stderr: '',
    });
    expect(await cli(['check', '--help'])).toEqual({
      code: 0,
      stdout: `Usage: hush-providers check [options]

Validates the config as the application does at bootstrap; lists every instance
(kind, name, type, model).

Options:
  -c, --config <file>       the providers YAML (default: $PROVIDERS_CONFIG, else
                            config/providers.yaml); its <name>.<env>.yaml
                            overlay is read over it
  -e, --env <name>          the environment whose overlay is read (default:
                            $NODE_ENV, else development)
  --ping                    also checks that each instance's service answers,
                            with its free check (never a billed call)
  -p, --providers <module>  a module exporting provider definitions (an array,
                            or named defineLLMProvider()... exports), from the
                            working directory; repeatable
  -h, --help                display help for command
`,
      stderr: '',
    });
    const print = await cli(['print', '--help']);
    expect(print.code).toBe(0);
    expect(print.stdout).toMatch(/^Usage: hush-providers print \[options\]\n\nPrints the resolved config as YAML/);
    expect(print.stdout).not.toContain('--ping');
    expect(await cli(['help', 'schema'])).toEqual({
      code: 0,
      stdout: `Usage: hush-providers schema [options]

Prints the config's JSON Schema (draft 2020-12), for editors and CI.

Options:
  -o, --out <file>          write it to this file instead of stdout
  -p, --providers <module>  a module exporting provider definitions (an array,
                            or named defineLLMProvider()... exports), from the
                            working directory; repeatable
  -h, --help                display help for command
`,
      stderr: '',
    });
  });

  it('runs through npx from the installed package', async () => {
    expect(await run('npx', ['--no-install', 'hush-providers', '--version'])).toEqual({
      code: 0,
      stdout: `${(JSON.parse(readFileSync(join(root, 'libs/providers/package.json'), 'utf8')) as { version: string }).version}\n`,
      stderr: '',
    });
  });

  it.each([
    [['chek'], "error: unknown command 'chek'\n(Did you mean check?)\n"],
    [['check', '--pong'], "error: unknown option '--pong'\n(Did you mean --ping?)\n"],
    [['check', 'config/providers.yaml'], "error: too many arguments for 'check'. Expected 0 arguments but got 1.\n"],
    [['check', '--config'], "error: option '-c, --config <file>' argument missing\n"],
    [['print', '--ping'], "error: unknown option '--ping'\n"],
    [
      ['check', '--providers', './missing.mjs'],
      `error: --providers ./missing.mjs could not be loaded: Cannot find module '${dir}/missing.mjs' imported from ${dir}/node_modules/@hush/providers/dist/cli/config-source.js\n`,
    ],
    [
      ['check', '--providers', './no-providers.mjs'],
      'error: --providers ./no-providers.mjs exports no provider definition. Export them as an array, or each as a named export made with defineLLMProvider(), defineEmbeddingProvider() or defineRerankerProvider().\n',
    ],
  ])('%j exits 64 with its error', async (args, stderr) => {
    expect(await cli(args)).toEqual({ code: 64, stdout: '', stderr });
  });

  it('with no command, shows the help on stderr and exits 64', async () => {
    const { code, stdout, stderr } = await cli([]);
    expect({ code, stdout }).toEqual({ code: 64, stdout: '' });
    expect(stderr).toMatch(/^Usage: hush-providers \[options\] \[command\]\n/);
  });
});

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return results;
}
