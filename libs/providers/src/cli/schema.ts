import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ProvidersConfigError, type ConfigIssue } from '../core/config-error.js';
import { configJsonSchema } from '../config/json-schema.js';
import { ProviderDefinitionTable } from '../config/provider-definition-table.js';
import { BUILTIN_PROVIDERS } from '../module/builtin-providers.js';
import { loadDefinitions } from './config-source.js';
import { EXIT } from './exit-codes.js';

export interface SchemaFlags {
  out?: string;
  providers?: string[];
}

/** The JSON Schema of the YAML for the built-in types and those of `--providers`, on stdout or in a file. */
export async function schema(flags: SchemaFlags): Promise<number> {
  const extra = await loadDefinitions(flags.providers ?? []);
  const issues: ConfigIssue[] = [];
  // Checked as the module checks them (one registration per type); the table itself is not needed.
  new ProviderDefinitionTable(BUILTIN_PROVIDERS, extra, issues);
  if (issues.length > 0) {
    process.stderr.write(`${new ProvidersConfigError(issues).message}\n`);
    return EXIT.invalid;
  }
  // Later definitions replace built-in ones of the same kind and type, as in the module.
  const text = `${JSON.stringify(configJsonSchema([...BUILTIN_PROVIDERS, ...extra]), null, 2)}\n`;
  if (flags.out === undefined) process.stdout.write(text);
  else {
    mkdirSync(dirname(resolve(flags.out)), { recursive: true });
    writeFileSync(resolve(flags.out), text);
  }
  return EXIT.ok;
}
