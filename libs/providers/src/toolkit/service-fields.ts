import { IsNotEmpty, IsObject, IsOptional, IsString, IsUrl, ValidateBy } from '../core/validation.js';
import { HTTP_HEADER_NAME, Secret } from '../core/config-fields.js';
import type { HttpClientOptions } from '../http/http-client.js';

/**
 * Config fields shared by the provider types that speak a service's own HTTP API through
 * `HttpClient` (TEI, Ollama, Cohere, Jina, Voyage, ...): `baseUrl`, `apiKey`, `headers`, `model`.
 * Each is a small mixin, so a type states exactly which of them it requires.
 */

// fetch refuses URLs with credentials in them: say so at bootstrap, not at the first call.
export const SERVICE_URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'], disallow_auth: true };

/** A map of HTTP header names to string values. */
export function IsHeaderMap(): PropertyDecorator {
  return ValidateBy({
    name: 'isHeaderMap',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.entries(value).every(([name, v]) => HTTP_HEADER_NAME.test(name) && typeof v === 'string'),
      defaultMessage: () => '$property must map header names to string values',
    },
  });
}

type ConfigClass = new (...args: any[]) => object;

/** `baseUrl` (optional: each type documents its default) and `headers`: every HTTP service type has both. */
export function withServiceConnection<TBase extends ConfigClass>(Base: TBase) {
  class ServiceConnection extends Base {
    /** The service's API root, as its official SDK takes it; each type documents its default. */
    @IsOptional() @IsUrl(SERVICE_URL_OPTIONS) baseUrl?: string;

    /** Extra HTTP headers sent with every request (a proxy's, a gateway's); secret, since they often carry credentials. */
    @IsOptional() @IsObject() @IsHeaderMap() @Secret() headers?: Record<string, string>;
  }
  return ServiceConnection;
}

/** A required `apiKey`, sent by the driver the way its service wants it. */
export function withRequiredApiKey<TBase extends ConfigClass>(Base: TBase) {
  class RequiredApiKey extends Base {
    /** The service's API key. */
    @IsString() @IsNotEmpty() @Secret() apiKey!: string;
  }
  return RequiredApiKey;
}

/** An optional `apiKey` (self-hosted servers, usually without one; a gateway or a managed endpoint in front, with one). */
export function withOptionalApiKey<TBase extends ConfigClass>(Base: TBase) {
  class OptionalApiKey extends Base {
    /** Sent as `Authorization: Bearer <apiKey>` when given; no Authorization header otherwise. */
    @IsOptional() @IsString() @IsNotEmpty() @Secret() apiKey?: string;
  }
  return OptionalApiKey;
}

/** A required `model`, sent with every request. */
export function withRequiredModel<TBase extends ConfigClass>(Base: TBase) {
  class RequiredModel extends Base {
    /** The model name sent with every request. */
    @IsString() @IsNotEmpty() model!: string;
  }
  return RequiredModel;
}

/** What `serviceClientOptions` needs from a config: the fields of the mixins above. */
export interface ServiceConnectionConfig {
  baseUrl?: string;
  apiKey?: string;
  headers?: Record<string, string>;
}

/** How a service is reached when the config leaves it open: its root, and where its key goes. */
export interface ServiceAccess {
  /** The API root used when the config has no `baseUrl` (absent where `baseUrl` is required). */
  defaultBaseUrl?: string;
  /** The header that carries the key as it is (`x-goog-api-key`, `api-key`); default `Authorization: Bearer <apiKey>`. */
  keyHeader?: string;
}

/**
 * The `HttpClient` options of one instance of an HTTP service type: the root, the user's `headers`
 * with the key over them (see mergeHeaders; no auth header without a key), and every value to keep
 * out of messages (the key, and credentials or a token in the URL).
 */
export function serviceClientOptions(config: ServiceConnectionConfig, service: ServiceAccess = {}): HttpClientOptions {
  const baseUrl = config.baseUrl ?? service.defaultBaseUrl;
  // Validation requires baseUrl wherever a type has no default: reaching this is a type's own mistake.
  if (baseUrl === undefined) throw new Error('no baseUrl is configured and the type declares no default');
  const auth: Record<string, string> = !config.apiKey
    ? {}
    : service.keyHeader
      ? { [service.keyHeader]: config.apiKey }
      : { authorization: `Bearer ${config.apiKey}` };
  const secrets = [config.apiKey, ...urlSecrets(baseUrl)].filter((s): s is string => !!s);
  return { baseUrl, headers: mergeHeaders(config.headers, auth), secrets };
}

/** `serviceClientOptions` of a service that takes `Authorization: Bearer <apiKey>` (the key, when there is one). */
export function bearerClientOptions(config: ServiceConnectionConfig, defaultBaseUrl: string): HttpClientOptions {
  return serviceClientOptions(config, { defaultBaseUrl });
}

/**
 * The one rule for every type: the user's `headers`, then the type's auth headers over them (a
 * configured key is the more specific wish). Names are lower-cased, so a header given in another
 * spelling replaces a default instead of being sent twice.
 */
export function mergeHeaders(userHeaders: Record<string, string> | undefined, authHeaders: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...userHeaders })) headers[name.toLowerCase()] = value;
  for (const [name, value] of Object.entries(authHeaders)) headers[name.toLowerCase()] = value;
  return headers;
}

/** Credentials and query values in a URL (a config that bypassed validation, or a token in the query). */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    const query = [...u.searchParams.values()];
    return [u.password, safeDecode(u.password), ...query].filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
