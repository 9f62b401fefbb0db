// Writes schema.json, shipped as @hush/providers/schema.json, from the library just built: the JSON
// Schema of the YAML config for the built-in provider types (what `hush-providers schema` prints).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_PROVIDERS, configJsonSchema } from '../dist/index.js';

writeFileSync(join(import.meta.dirname, '..', 'schema.json'), `${JSON.stringify(configJsonSchema(BUILTIN_PROVIDERS), null, 2)}\n`);
