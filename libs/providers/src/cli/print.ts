import { stringify } from 'yaml';
import type { ConfigIssue } from '../core/config-error.js';
import { secretFieldsOf, secretValuesOf } from '../core/config-fields.js';
import { PROVIDER_KINDS } from '../core/provider-kind.js';
import { redactSecrets, REDACTED } from '../core/redact.js';
import { loadConfigLayers } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/validate-config.js';
import { prepareConfig } from '../module/prepare-config.js';
import { moduleOptions, type SourceFlags } from './config-source.js';
import { EXIT } from './exit-codes.js';

/**
 * The config as the application gets it (files and overlay merged, `${VAR}`s filled in) as YAML.
 * Only a valid config is printed: the types must be known to know which fields are secret.
 */
export async function print(flags: SourceFlags): Promise<number> {
  const options = await moduleOptions(flags);
  const { resolved, error } = prepareConfig(options);
  if (error) {
    process.stderr.write(`${error.message}\n`);
    return EXIT.invalid;
  }
  const loaded = loadConfigLayers(options, [] as ConfigIssue[]);
  const masked = maskSecrets(loaded.value as Record<string, unknown>, resolved);
  const header = `# ${loaded.files.join(' + ')} (environment: ${loaded.environment}); secrets shown as ${REDACTED}\n`;
  // Any secret value that is not under a secret field (pasted into a URL or a header name) is caught here.
  process.stdout.write(header + redactSecrets(stringify(masked, { lineWidth: 0 }), secretsOf(resolved)));
  return EXIT.ok;
}

/** A copy with every secret field of every instance (and deployment), and the store URL's password, as `***`. */
function maskSecrets(config: Record<string, unknown>, resolved: ResolvedConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const kind of PROVIDER_KINDS) {
    const section = config[kind] as Record<string, Record<string, unknown>> | undefined;
    if (!section) continue;
    out[kind] = Object.fromEntries(
      Object.entries(section).map(([name, entry]) => {
        const instance = resolved.instances[kind].get(name);
        // Deployments may differ in type: a field secret for any of them is hidden everywhere.
        const fields = new Set(instance?.deployments.flatMap((d) => [...secretFieldsOf(d.definition.config)].map(String)) ?? []);
        const masked = maskFields(entry, fields);
        if (Array.isArray(entry.deployments)) masked.deployments = entry.deployments.map((d: Record<string, unknown>) => maskFields(d, fields));
        return [name, masked];
      }),
    );
  }
  const store = config.store as Record<string, unknown> | undefined;
  if (store && typeof store.url === 'string') out.store = { ...store, url: maskUrlPassword(store.url) };
  return out;
}

function maskFields(entry: Record<string, unknown>, fields: ReadonlySet<string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(entry).map(([key, value]) => {
      if (!fields.has(key)) return [key, value];
      // A map of secrets (headers) keeps its keys: which headers are set is not a secret.
      if (value && typeof value === 'object' && !Array.isArray(value)) return [key, Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]))];
      return [key, REDACTED];
    }),
  );
}

/** `redis://user:pass@host` → `redis://user:***@host`. */
function maskUrlPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, `$1${REDACTED}@`);
}

/** The values the registry would redact: every deployment's secret fields and the store's password. */
function secretsOf(resolved: ResolvedConfig): string[] {
  const values = PROVIDER_KINDS.flatMap((kind) =>
    [...resolved.instances[kind].values()].flatMap((i) => i.deployments.flatMap((d) => secretValuesOf(d.definition.config, d.config))),
  );
  if (resolved.store.type === 'redis') {
    const password = new URL(resolved.store.url).password;
    if (password) values.push(password, decodeURIComponent(password));
  }
  return values;
}
