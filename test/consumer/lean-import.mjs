// What importing the package loads: none of the heavy modules it needs only later.
import { createRequire } from 'node:module';
await import('@nestjs/common');
await import('@nestjs/core');
const require = createRequire(import.meta.url);
const before = new Set(Object.keys(require.cache));
await import('@hush/providers');
const loaded = new Set();
for (const file of Object.keys(require.cache)) {
  if (before.has(file)) continue;
  // The package a file belongs to: after its last node_modules/.
  const match = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (match) loaded.add(match[1]);
}
process.stdout.write(JSON.stringify([...loaded].sort()));
