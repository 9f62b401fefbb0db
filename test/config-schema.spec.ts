import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { parse, parseDocument } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_PROVIDERS, configJsonSchema } from '@hush/providers';
// @ts-expect-error: a plain .mjs script, shared with `npm run docs:config-fields`
import { OUTPUT, renderFieldDocs } from '../scripts/config-field-docs.mjs';
import { acmeEmbedder } from './guide/acme.embedder.js';
import { acmeReranker } from './guide/acme.reranker.js';
import { packLibrary } from './support/packed-package.js';

const root = join(import.meta.dirname, '..');
const SHIPPED = join(root, 'libs/providers/schema.json');

function compile(schema: object) {
  const ajv = new Ajv2020({ allErrors: true });
  return ajv.compile(schema);
}
const validate = compile(configJsonSchema(BUILTIN_PROVIDERS));
const errorsOf = (config: unknown, check = validate): ErrorObject[] => (check(config) ? [] : (check.errors ?? []));
const problems = (config: unknown) => errorsOf(config).map((e) => `${e.instancePath} ${e.message}`);

/** The YAML config files of the repository that editors open: every one but the broken corpus. */
const exampleFiles = ['config', 'config/examples', 'test/consumer'].flatMap((dir) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `${dir}/${f}`),
);

describe('configJsonSchema', () => {
  it('is draft 2020-12 and describes the fields from their doc comments', () => {
    const schema = configJsonSchema(BUILTIN_PROVIDERS) as { $schema: string; $defs: Record<string, { description?: string }> };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$defs['InstanceConfig.timeoutMs']!.description).toBe('Deadline of one logical call (retries and fallbacks included), ms.');
    expect(schema.$defs['llm.openai']!.description).toBe(BUILTIN_PROVIDERS.find((d) => d.kind === 'llm' && d.type === 'openai')!.description);
  });

  it.each(exampleFiles)('%s validates as written, ${VAR} strings included', (file) => {
    const text = readFileSync(join(root, file), 'utf8');
    expect(problems(parse(text))).toEqual([]);
  });

  it.each(exampleFiles)('%s names the schema for the YAML language server on its first line', (file) => {
    const first = readFileSync(join(root, file), 'utf8').split('\n')[0]!;
    const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(match).not.toBeNull();
    expect(resolve(dirname(join(root, file)), match![1]!)).toBe(SHIPPED);
  });

  it('gives a third-party type its branch when its definition is passed', () => {
    const withAcme = compile(configJsonSchema([...BUILTIN_PROVIDERS, acmeEmbedder, acmeReranker]));
    const acme = { embedding: { docs: { type: 'acme', model: 'acme-embed-1', apiKey: '${ACME_KEY}', truncate: 'end' } } };
    expect(errorsOf(acme, withAcme)).toEqual([]);
    expect(errorsOf(acme)).not.toEqual([]);
    const typo = { embedding: { docs: { ...acme.embedding.docs, truncate: 'middle', baseURL: 'https://acme.example' } } };
    expect(errorsOf(typo, withAcme).map((e) => e.params)).toEqual(
      expect.arrayContaining([{ additionalProperty: 'baseURL' }, expect.objectContaining({ allowedValues: ['start', 'end', null] })]),
    );
  });

  it('validates every YAML example of the README and the docs, third-party types included', () => {
    const withAcme = compile(configJsonSchema([...BUILTIN_PROVIDERS, acmeEmbedder, acmeReranker]));
    const files = ['README.md', 'docs/configuration.md', 'docs/reliability.md', 'docs/adding-a-provider.md', 'docs/observability.md', 'docs/scale-out.md'];
    const blocks = files.flatMap((file) => [...readFileSync(join(root, file), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!));
    expect(blocks.length).toBeGreaterThan(5);
    for (const block of blocks) expect(errorsOf(parse(block), withAcme)).toEqual([]);
  });

  describe('hand-written configs', () => {
    const chat = { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:8080/v1', model: 'qwen' };

    it('accepts ${VAR} where a number, a boolean or an enum value is expected, and null where a key is optional', () => {
      expect(
        problems({
          llm: { chat: { ...chat, timeoutMs: '${TIMEOUT_MS}', captureContent: '${CAPTURE:-false}', routing: '${ROUTING}', rpm: null } },
          store: { type: 'redis', url: '${REDIS_URL}', timeoutMs: '${REDIS_TIMEOUT_MS}', required: 'true' },
        }),
      ).toEqual([]);
    });

    it('refuses a number field given other text', () => {
      expect(problems({ llm: { chat: { ...chat, timeoutMs: '3 seconds' } } })).toEqual(
        expect.arrayContaining(['/llm/chat/timeoutMs must be integer,null', '/llm/chat/timeoutMs must match pattern "\\$\\{"']),
      );
    });

    it('refuses a store of an unknown type, and a redis store without url or with keys of another type', () => {
      expect(problems({ store: { type: 'memcached' } })).toContain('/store/type must be equal to one of the allowed values');
      expect(problems({ store: { type: 'redis' } })).toContain("/store must have required property 'url'");
      expect(problems({ store: { type: 'memory', url: 'redis://localhost:6379' } })).toContain('/store must NOT have additional properties');
      expect(problems({ store: { type: 'redis', url: 'http://localhost:6379' } })).toContain('/store/url must match pattern "^rediss?://|\\$\\{"');
    });

    it('refuses a cache without ttlMs, and pricing with an unknown key', () => {
      expect(problems({ llm: { chat: { ...chat, cache: {} } } })).toContain("/llm/chat/cache must have required property 'ttlMs'");
      const pricing = { inputPerMTok: 0.15, outputPerMTok: 0.6, perSearch: 1 };
      expect(errorsOf({ llm: { chat: { ...chat, pricing } } }).map((e) => e.params)).toContainEqual({ additionalProperty: 'perSearch' });
    });

    it('checks deployments: an entry type for items without one, their own type for the others, weight only in items', () => {
      const entry = { type: 'openai-compatible', model: 'a', deployments: [{ baseUrl: 'http://a:1/v1', weight: 2 }, { baseUrl: 'http://b:1/v1' }] };
      expect(problems({ llm: { chat: entry } })).toEqual([]);
      expect(problems({ llm: { chat: { ...entry, deployments: [{ baseURL: 'http://a:1/v1' }] } } })).toContain(
        '/llm/chat/deployments/0 must NOT have additional properties',
      );
      const mixed = { deployments: [{ ...chat }, { type: 'openai', model: 'gpt-4o-mini', apiKey: '${OPENAI_API_KEY}', organization: 'org-1' }] };
      expect(problems({ llm: { chat: mixed } })).toEqual([]);
      expect(problems({ llm: { chat: { ...chat, weight: 2 } } })).toContain('/llm/chat/weight boolean schema is false');
    });

    it('requires model where the type does, not where it is optional (azure-openai)', () => {
      expect(problems({ llm: { chat: { type: 'openai', apiKey: 'k' } } })).toContain("/llm/chat must have required property 'model'");
      const azure = { type: 'azure-openai', endpoint: 'https://r.openai.azure.com', deployment: 'gpt4o', apiKey: '${AZURE_KEY}' };
      expect(problems({ llm: { chat: azure } })).toEqual([]);
    });

    it('accepts null for a removed entry or section (an overlay over a base file)', () => {
      expect(problems({ llm: { chat: null }, embedding: null, store: null, defaults: { llm: null } })).toEqual([]);
    });
  });
});

/**
 * The bad-config corpus, split by what can catch it: a JSON Schema sees one parsed file's shapes and
 * values, not YAML syntax, the environment, or how entries refer to one another.
 */
const SCHEMA_CATCHES: Record<string, string> = {
  '07-root-is-a-list.yaml': 'the root must be a map',
  '08-unknown-section.yaml': 'unknown top-level key',
  '09-section-not-a-map.yaml': 'a section must be a map',
  '10-entry-not-a-map.yaml': 'an entry must be a map',
  '11-entry-without-type.yaml': 'type is required',
  '12-bad-instance-name.yaml': 'names have a pattern (propertyNames)',
  '13-type-not-a-string.yaml': 'type is an enum of strings',
  '14-number-field-gets-text.yaml': 'integer or a ${VAR} string',
  '15-string-field-gets-map.yaml': 'wrong type',
  '16-params-not-a-map.yaml': 'wrong type',
  '17-fallbacks-not-a-list.yaml': 'wrong type',
  '18-headers-not-strings.yaml': 'header values must be strings',
  '19-dimensions-negative.yaml': 'minimum',
  '20-max-retries-too-high.yaml': 'maximum',
  '21-timeout-zero.yaml': 'minimum',
  '22-batch-size-zero.yaml': 'minimum',
  '23-deployment-weight-negative.yaml': 'exclusiveMinimum',
  '24-rpm-zero.yaml': 'minimum',
  '25-routing-unknown.yaml': 'enum',
  '26-unknown-type-typo.yaml': 'type is an enum per kind',
  '27-type-of-another-kind.yaml': 'type is an enum per kind',
  '28-unknown-key-baseURL.yaml': 'additionalProperties: false',
  '29-unknown-key-param-at-top.yaml': 'additionalProperties: false',
  '30-bad-url.yaml': 'a URL pattern that requires the protocol',
  '31-url-with-credentials.yaml': 'the URL pattern refuses user:password@',
  '32-required-field-missing.yaml': 'required (apiKey)',
  '33-deployments-empty.yaml': 'minItems',
  '34-deployment-not-a-map.yaml': 'a deployment must be a map',
  '46-default-unknown-kind.yaml': 'defaults has one key per kind',
  '47-secret-of-wrong-type.yaml': 'wrong type',
};
// 'yaml': the file does not parse, so there is nothing to validate; 'load': valid shapes, checked when the config is loaded.
const SCHEMA_MISSES: Record<string, [stage: 'yaml' | 'load', reason: string]> = {
  '01-syntax-bad-indentation.yaml': ['yaml', 'YAML syntax: the file does not parse'],
  '02-syntax-bad-flow-map.yaml': ['yaml', 'YAML syntax'],
  '03-syntax-tab-indent.yaml': ['yaml', 'YAML syntax'],
  '04-syntax-duplicate-name.yaml': ['yaml', 'a duplicate key is a YAML error (the editor flags it, the parsed value has one)'],
  '05-syntax-unknown-alias.yaml': ['yaml', 'YAML syntax'],
  '06-syntax-duplicate-key-in-entry.yaml': ['yaml', 'a duplicate key is a YAML error (the editor flags it, the parsed value has one)'],
  '35-missing-variable.yaml': ['load', 'the environment is read when loading'],
  '36-malformed-variable.yaml': ['load', '${...} syntax inside a string is checked when loading'],
  '37-unclosed-variable.yaml': ['load', '${...} syntax inside a string is checked when loading'],
  '38-empty-variable.yaml': ['load', 'the environment is read when loading'],
  '39-fallback-unknown-name.yaml': ['load', 'a reference to another entry'],
  '40-fallback-self.yaml': ['load', 'a reference to another entry'],
  '41-fallback-cycle.yaml': ['load', 'a cycle across entries'],
  '42-fallback-other-kind.yaml': ['load', 'a reference to another entry'],
  '43-embedding-fallback-other-model.yaml': ['load', 'a comparison of two entries'],
  '44-embedding-fallback-other-dimensions.yaml': ['load', 'a comparison of two entries'],
  '45-default-names-missing-entry.yaml': ['load', 'a reference to another entry'],
  '48-syntax-variable-in-flow-map.yaml': ['yaml', 'YAML syntax'],
  '49-alias-bomb.yaml': ['yaml', 'the YAML parser refuses the alias expansion'],
};

describe('the bad-config corpus against the schema', () => {
  const dir = join(root, 'test/fixtures/bad-config');
  const corpus = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  // What an editor's parser gives the schema: nothing when the YAML itself is broken.
  const parsed = (file: string) => {
    const doc = parseDocument(readFileSync(join(dir, file), 'utf8'));
    if (doc.errors.length > 0) return undefined;
    try {
      return { value: doc.toJS() as unknown };
    } catch {
      // An alias expanding past the parser's limit.
      return undefined;
    }
  };

  it('lists every corpus file once, as caught or not', () => {
    expect([...Object.keys(SCHEMA_CATCHES), ...Object.keys(SCHEMA_MISSES)].sort()).toEqual([...corpus].sort());
  });

  // The key the file's first `# expect:` line names (`llm["my chat"]`, `llm.chat.deployments[1].weight`), as a JSON pointer.
  const expectedPointer = (file: string) => {
    const line = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('# expect: '))!;
    const path = /^# expect: \d+:\d+ (.+?): /.exec(line)?.[1] ?? '';
    return [...path.matchAll(/\["([^"]*)"\]|\[(\d+)\]|([^.[\]]+)/g)].map((m) => `/${m[1] ?? m[2] ?? m[3]}`).join('');
  };

  it.each(Object.keys(SCHEMA_CATCHES))('rejects %s at the key its loader error names', (file) => {
    const doc = parsed(file);
    expect(doc).toBeDefined();
    const errors = errorsOf(doc!.value);
    expect(errors).not.toEqual([]);
    // A missing or unknown key is reported on the map that holds it: the key's name is in params.
    const at = errors.flatMap((e) => {
      const key = (e.params as { missingProperty?: string; additionalProperty?: string; propertyName?: string }) ?? {};
      const named = key.missingProperty ?? key.additionalProperty ?? key.propertyName;
      return named === undefined ? [e.instancePath] : [e.instancePath, `${e.instancePath}/${named}`];
    });
    expect(at.some((pointer) => pointer.startsWith(expectedPointer(file)))).toBe(true);
  });

  it.each(Object.keys(SCHEMA_MISSES))('cannot see the problem of %s', (file) => {
    const doc = parsed(file);
    if (SCHEMA_MISSES[file]![0] === 'yaml') expect(doc).toBeUndefined();
    else expect(problems(doc!.value)).toEqual([]);
  });
});

describe('the field docs', () => {
  it('are generated from the current doc comments (npm run docs:config-fields)', async () => {
    expect(readFileSync(OUTPUT, 'utf8')).toBe(await renderFieldDocs());
  });
});

describe('@hush/providers/schema.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hush-schema-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is in the packed package, exported, and equal to configJsonSchema(BUILTIN_PROVIDERS)', () => {
    const tarball = packLibrary(dir);
    execFileSync('tar', ['-xzf', tarball, 'package/schema.json', 'package/package.json'], { cwd: dir });
    const manifest = JSON.parse(readFileSync(join(dir, 'package/package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(manifest.exports['./schema.json']).toBe('./schema.json');
    expect(JSON.parse(readFileSync(join(dir, 'package/schema.json'), 'utf8'))).toEqual(configJsonSchema(BUILTIN_PROVIDERS));
    // The build writes it beside the package.json too, where the repository's YAML files point.
    expect(existsSync(SHIPPED)).toBe(true);
  }, 240_000);
});
