import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ProvidersConfigError, ProvidersModule, ProvidersRegistry, type ProvidersModuleOptions } from '@hush/providers';
import { configDir, yaml } from './support/config-files.js';

/**
 * The top-level `store:` and the instances' `cache:`, checked like every other key: each mistake
 * with its file, line, key path and what to write; the Redis URL (it may hold a password) never
 * quoted.
 */

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

const PASSWORD = 'redis-pass-never-printed-42';

async function configError(yamlText: string, env: Record<string, string> = {}): Promise<ProvidersConfigError> {
  const dir = configDir({ 'config/providers.yaml': yamlText });
  cleanups.push(dir.cleanup);
  const options: ProvidersModuleOptions = { cwd: dir.dir, env };
  const error = await Test.createTestingModule({ imports: [ProvidersModule.forRoot(options)] })
    .compile()
    .then(
      (module) => {
        cleanups.push(() => void module.close());
        return undefined;
      },
      (err: unknown) => err,
    );
  expect(error).toBeInstanceOf(ProvidersConfigError);
  return error as ProvidersConfigError;
}

const llm = yaml`
  llm:
    chat:
      type: openai-compatible
      baseUrl: http://127.0.0.1:9/v1
      model: m
`;

/** `path (line N): message | hint` of each issue. */
const issues = (error: ProvidersConfigError) => error.issues.map((i) => `${i.path} (line ${i.line}): ${i.message}${i.hint ? ` | ${i.hint}` : ''}`);

describe('store:', () => {
  it('refuses an unknown type, naming the two there are', async () => {
    const error = await configError(`${llm}store:\n  type: memcached\n`);
    expect(issues(error)).toEqual([
      'store.type (line 7): Unknown store type "memcached". | Types: memory (this process, the default), redis (shared by every process on the same server).',
    ]);
    expect(error.issues[0]!.file).toBe('config/providers.yaml');
  });

  it('asks for a type, and for a map', async () => {
    expect(issues(await configError(`${llm}store:\n  url: redis://127.0.0.1:6379\n`))).toEqual([
      'store.type (line 6): "store" needs a "type". | Types: memory (this process, the default), redis (shared by every process on the same server).',
    ]);
    expect(issues(await configError(`${llm}store: redis\n`))).toEqual([
      'store (line 6): "store" must be a map (type: memory | redis, url, keyPrefix); got string.',
    ]);
  });

  it('asks a redis store for its url, and says what to write', async () => {
    expect(issues(await configError(`${llm}store:\n  type: redis\n`))).toEqual([
      'store.url (line 6): A redis store needs a "url". | url: redis://host:6379 (or ${REDIS_URL}); rediss:// for TLS.',
    ]);
  });

  it('refuses a URL that is not Redis’s, without quoting it (it may hold a password)', async () => {
    const shape = 'Write redis://[user:password@]host:port[/db], or rediss://… for TLS.';
    const cases: Array<[string, string]> = [
      [`http://user:${PASSWORD}@cache:6379`, `store.url (line 8): store.url must use redis:// or rediss://; it uses http://. | ${shape}`],
      [`redis:${PASSWORD}`, `store.url (line 8): store.url names no host. | ${shape}`],
      [`redis://:${PASSWORD}@cache:6379/zero`, `store.url (line 8): store.url: the path must be a database number (/0, /1, ...). | ${shape}`],
      [`${PASSWORD} not a url`, `store.url (line 8): store.url is not a URL. | ${shape}`],
    ];
    for (const [url, expected] of cases) {
      const error = await configError(`${llm}store:\n  type: redis\n  url: \${REDIS_URL}\n`, { REDIS_URL: url });
      expect(issues(error)).toEqual([expected]);
      expect(error.message).not.toContain(PASSWORD);
    }
  });

  it('refuses keys a store does not have, and the redis keys on a memory store', async () => {
    const error = await configError(`${llm}store:\n  type: memory\n  url: redis://127.0.0.1:6379\n  keyprefix: app\n`);
    expect(issues(error)).toEqual([
      'store.url (line 8): Unknown key "url" in a memory store. | "url" applies to type: redis.',
      'store.keyprefix (line 9): Unknown key "keyprefix" in a memory store. | Keys: type.',
    ]);
  });

  it('checks keyPrefix, required and timeoutMs', async () => {
    const error = await configError(`${llm}store:\n  type: redis\n  url: redis://127.0.0.1:6379\n  keyPrefix: "my app"\n  required: maybe\n  timeoutMs: 0\n`);
    expect(issues(error)).toEqual([
      'store.keyPrefix (line 9): store.keyPrefix must be 1 to 64 letters, digits, "_", ".", ":" or "-". | e.g. keyPrefix: myapp',
      'store.required (line 10): store.required must be true or false.',
      'store.timeoutMs (line 11): store.timeoutMs must be a whole number of milliseconds from 1 to 60000.',
    ]);
  });

  it('takes a valid memory store, and no store at all', async () => {
    for (const text of [llm, `${llm}store:\n  type: memory\n`]) {
      const dir = configDir({ 'config/providers.yaml': text });
      cleanups.push(dir.cleanup);
      const module = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ cwd: dir.dir, env: {} })] }).compile();
      cleanups.push(() => void module.close());
      expect(module.get(ProvidersRegistry).llm('chat').name).toBe('chat');
    }
  });
});

describe('the Redis URL’s password', () => {
  it('is one of the secrets ProvidersRegistry.redact replaces', async () => {
    const dir = configDir({ 'config/providers.yaml': `${llm}store:\n  type: redis\n  url: \${REDIS_URL}\n  timeoutMs: 50\n` });
    cleanups.push(dir.cleanup);
    // A closed port, and required: false (the default): the store starts on this process's memory.
    const env = { REDIS_URL: `redis://:${encodeURIComponent(PASSWORD + '/x')}@127.0.0.1:9` };
    const module = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ cwd: dir.dir, env })] }).compile();
    module.useLogger(false);
    cleanups.push(() => void module.close());
    const registry = module.get(ProvidersRegistry);
    expect(registry.redact(`auth ${PASSWORD}/x and ${encodeURIComponent(PASSWORD + '/x')}`)).toBe('auth *** and ***');
  }, 15_000);
});

describe('cache:', () => {
  it('needs ttlMs, a whole number of ms above 0, and nothing else', async () => {
    const base = yaml`
      embedding:
        docs:
          type: openai-compatible
          baseUrl: http://127.0.0.1:9/v1
          model: e
    `;
    expect(issues(await configError(`${base}    cache: { ttl: 60000 }\n`))).toEqual([
      'embedding.docs.cache.ttlMs (line 6): "ttlMs" is required (must be an integer number). | Add "ttlMs:" to the entry.',
      'embedding.docs.cache.ttl (line 6): Unknown key "ttl" for type "openai-compatible". | Did you mean "ttlMs"? Keys of "cache": ttlMs.',
    ]);
    expect(issues(await configError(`${base}    cache: { ttlMs: 0 }\n`))).toEqual([
      'embedding.docs.cache.ttlMs (line 6): "ttlMs" must not be less than 1; got 0.',
    ]);
    expect(issues(await configError(`${base}    cache: 60000\n`))).toEqual(['embedding.docs.cache (line 6): "cache" must be an object; got 60000.']);
  });
});
