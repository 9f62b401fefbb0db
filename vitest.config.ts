import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const lib = (p: string) => fileURLToPath(new URL(`./libs/providers/src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the library's source, the same module instances the app sees.
    alias: [
      { find: /^@hush\/providers\/testing$/, replacement: lib('testing/index.ts') },
      { find: /^@hush\/providers\/health$/, replacement: lib('health/index.ts') },
      { find: /^@hush\/providers$/, replacement: lib('index.ts') },
    ],
  },
  test: {
    globals: false,
    include: ['test/**/*.spec.ts', 'libs/**/*.spec.ts'],
    // Fails any test file that prints one of the test API keys (see the file).
    setupFiles: ['test/support/secret-scan.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
