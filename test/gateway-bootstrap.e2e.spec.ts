import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProvidersConfigError } from '@hush/providers';
import { bootstrap } from '../src/app.js';
import { OpenAIFakeServer } from './fakes/openai-fake-server.js';

/** Collects what the app logs, so the test can read it (and the output stays quiet). */
function capturingLogger(lines: string[]): LoggerService {
  const push = (message: unknown, ...rest: unknown[]) => void lines.push(`${String(rest.at(-1) ?? '')}: ${String(message)}`);
  return { log: push, error: push, warn: push, debug: push, verbose: push, fatal: push };
}

describe('bootstrap() — what npm start runs', () => {
  let dir: string;
  let upstream: OpenAIFakeServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-bootstrap-'));
    upstream = await OpenAIFakeServer.start({ apiKey: 'sk-bootstrap-upstream-key-123' });
    writeFileSync(
      join(dir, 'providers.yaml'),
      [
        'llm:',
        '  chat:',
        '    type: openai-compatible',
        '    baseUrl: ${UPSTREAM_URL}',
        '    apiKey: ${UPSTREAM_KEY}',
        '    model: gpt-4o-mini',
        'embedding:',
        '  docs:',
        '    type: openai-compatible',
        '    baseUrl: ${UPSTREAM_URL}',
        '    model: text-embedding-3-small',
        '    apiKey: ${UPSTREAM_KEY}',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads PROVIDERS_CONFIG and GATEWAY_API_KEYS, listens on HOST:PORT and logs the URL once', async () => {
    const lines: string[] = [];
    const app = await bootstrap({
      env: {
        PROVIDERS_CONFIG: join(dir, 'providers.yaml'),
        NODE_ENV: 'test',
        PORT: '0',
        HOST: '127.0.0.1',
        GATEWAY_API_KEYS: 'boot-key',
        UPSTREAM_URL: upstream.baseUrl,
        UPSTREAM_KEY: 'sk-bootstrap-upstream-key-123',
      },
      app: { logger: capturingLogger(lines), forceCloseConnections: true },
    });
    try {
      const url = await app.getUrl();
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const listening = lines.filter((l) => l.includes('Listening on'));
      expect(listening).toEqual([`Gateway: Listening on ${url} (OpenAPI docs at ${url}/docs; client keys required)`]);

      expect((await fetch(`${url}/v1/models`)).status).toBe(401);
      const models = await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer boot-key' } });
      expect(((await models.json()) as { data: Array<{ id: string; kind: string }> }).data.map((m) => [m.id, m.kind])).toEqual([
        ['chat', 'llm'],
        ['docs', 'embedding'],
      ]);
      expect(lines.join('\n')).not.toContain('sk-bootstrap-upstream-key-123');
    } finally {
      await app.close();
    }
  });

  it('fails with the ProvidersConfigError when the config is missing, leaving nothing listening', async () => {
    const err = await bootstrap({ env: { PROVIDERS_CONFIG: join(dir, 'missing.yaml'), PORT: '0' }, app: { logger: false } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProvidersConfigError);
    expect((err as Error).message).toContain('missing.yaml');
    expect((err as Error).message).toContain('does not exist');
  });

  it('refuses a PORT that is not a port', async () => {
    await expect(bootstrap({ env: { PORT: 'http' } })).rejects.toThrow('PORT must be a whole number from 0 to 65535; got "http".');
  });
});
