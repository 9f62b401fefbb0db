import { subscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { PROVIDER_ERROR_CHANNEL } from '@hush/providers';
import { afterAll } from 'vitest';

/**
 * Runs in every test file (vitest setupFiles): everything the suite writes to stdout or stderr (log
 * lines of Nest's logger, console output, warnings), and every error the library creates (published
 * on its diagnostics channel, caught or not), is scanned for the shapes of the API keys the tests
 * use; a file where one shows fails. The keys in tests follow these shapes on purpose.
 */
export const TEST_SECRET = /SECRETKEY[0-9A-Za-z]*|WRONGKEY[0-9A-Za-z]*|sk-test-[A-Za-z0-9-]{6,}|sk-(?:live|upstream|wrong)-[A-Za-z0-9-]{6,}|acme-secret-key/;

const leaks: string[] = [];

function scan(text: string): void {
  const match = TEST_SECRET.exec(text);
  if (match) leaks.push(text.slice(Math.max(0, match.index - 80), match.index).replace(/\s+/g, ' ') + '[KEY]');
}

subscribe(PROVIDER_ERROR_CHANNEL, (error) => {
  const e = error as Error;
  scan([e.message, e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 6 })].join('\n'));
});

// Nest's logger writes to the streams; vitest routes console.* around them, so both are watched.
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    scan(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
    return write(chunk, ...rest);
  }) as typeof stream.write;
}
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    scan(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 6 }))).join(' '));
    original(...args);
  };
}

afterAll(() => {
  if (leaks.length > 0) {
    throw new Error(`A test API key was printed or put in an error (${leaks.length} time(s)); first after: ${leaks[0]}`);
  }
});
