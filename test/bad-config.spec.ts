import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { ProvidersConfigError, ProvidersModule } from '@hush/providers';

/**
 * The bad-config corpus: each file under test/fixtures/bad-config/ is one broken config, and its
 * `# expect:` lines (at the end, so positions above stay true) are exactly the problems its error
 * must name, as `line:column key.path: message`. No secret written in a file may appear in the error.
 */
const dir = join(import.meta.dirname, 'fixtures', 'bad-config');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const SECRET = /sk-test-corpus-\d{4}/g;

describe('bad-config corpus', () => {
  it('has at least 40 broken files', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
  });

  it.each(files)('%s', async (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const expected = text
      .split('\n')
      .filter((l) => l.startsWith('# expect: '))
      .map((l) => l.slice('# expect: '.length));
    expect(expected.length).toBeGreaterThan(0);

    const error = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ cwd: dir, configPath: file, env: { HUSH_CORPUS_EMPTY: '' } })],
    })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(ProvidersConfigError);
    const issues = (error as ProvidersConfigError).issues;
    expect(issues.every((i) => i.file === file)).toBe(true);
    const named = issues.map((i) =>
      [i.line !== undefined ? `${i.line}:${i.column}` : undefined, i.path ? `${i.path}:` : undefined, i.message].filter(Boolean).join(' '),
    );
    expect(named).toEqual(expected);

    for (const secret of text.match(SECRET) ?? []) {
      for (const shown of [(error as Error).message, String(error), JSON.stringify(issues), inspect(error, { depth: 5 })]) expect(shown).not.toContain(secret);
    }
  });
});
