import { IsObject, IsOptional, IsString, IsUrl, Matches, ValidateBy } from '../../core/validation.js';
import { Secret } from '../../core/config-fields.js';
import { IsHeaderMap, SERVICE_URL_OPTIONS } from '../../toolkit/service-fields.js';
import { GEMINI_DEFAULT_API_VERSION, GEMINI_DEFAULT_BASE_URL } from './gemini-api.js';

/**
 * The connection fields of both `gemini` types (llm and embedding), so one `baseUrl` reaches both.
 * They mirror `@google/genai`: `baseUrl` is its `httpOptions.baseUrl` (the API root, no version),
 * `apiVersion` its `apiVersion`; each type appends `/{apiVersion}` and its own route.
 */

// Declared in gemini-api.ts with the rest of the service's facts; both gemini types import them from here too.
export { GEMINI_DEFAULT_API_VERSION, GEMINI_DEFAULT_BASE_URL };

// One path segment only: the version is put between the root and the route.
const API_VERSION = /^[A-Za-z0-9]+$/;

// A root that still ends in a version (`/v1beta`, `/v1`, `/v1alpha`), or the OpenAI-compatible
// route under one (`/v1beta/openai`): the type would add its own and ask for `/v1beta/v1beta/...`.
const VERSION_SUFFIX = /\/(v\d+[a-z]*\d*)(\/openai)?\/*$/i;

/** `baseUrl` must not carry the API version: refused at bootstrap with the root to write instead. */
function IsGeminiApiRoot(): PropertyDecorator {
  return ValidateBy({
    name: 'isGeminiApiRoot',
    validator: {
      // Anything that is not a URL is IsUrl's to report.
      validate: (value: unknown) => typeof value !== 'string' || versionSuffix(value) === undefined,
      defaultMessage: (args) => {
        const found = versionSuffix(String(args?.value))!;
        const configured = (args?.object as { apiVersion?: unknown } | undefined)?.apiVersion ?? GEMINI_DEFAULT_API_VERSION;
        const versionToo = found.version === configured ? '' : ` with "apiVersion: ${found.version}"`;
        return `$property must be the API root without "${found.suffix}" (the type adds its version path itself): write "${found.root}"${versionToo}`;
      },
    },
  });
}

function versionSuffix(value: string): { suffix: string; version: string; root: string } | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const match = VERSION_SUFFIX.exec(url.pathname);
  if (!match) return undefined;
  // The suggestion leaves out the query and fragment, where a token may sit.
  const root = `${url.origin}${url.pathname.slice(0, match.index)}`;
  return { suffix: `/${match[1]}${match[2] ?? ''}`, version: match[1]!, root };
}

type ConfigClass = new (...args: any[]) => object;

/**
 * `withServiceConnection`'s fields with a checked `baseUrl`, plus `apiVersion`. Declared here rather
 * than over `withServiceConnection`: class-validator lets a subclass's custom validator on a property
 * replace the parent's `@IsUrl` instead of adding to it.
 */
export function withGeminiConnection<TBase extends ConfigClass>(Base: TBase) {
  class GeminiConnection extends Base {
    /** The API root, as `@google/genai` takes it (no version path); default https://generativelanguage.googleapis.com. */
    @IsOptional() @IsUrl(SERVICE_URL_OPTIONS) @IsGeminiApiRoot() baseUrl?: string;

    /** The API version path put after `baseUrl` (`v1beta`, `v1`, `v1alpha`); default v1beta. */
    @IsOptional()
    @IsString()
    @Matches(API_VERSION, { message: '$property must be an API version name of letters and digits (v1beta, v1, v1alpha)' })
    apiVersion?: string;

    /** Extra HTTP headers sent with every request (a proxy's, a gateway's); secret, since they often carry credentials. */
    @IsOptional() @IsObject() @IsHeaderMap() @Secret() headers?: Record<string, string>;
  }
  return GeminiConnection;
}

/** `{baseUrl}/{apiVersion}`: where each type's own route starts. */
export function geminiVersionedRoot(config: { baseUrl?: string; apiVersion?: string }): string {
  const root = (config.baseUrl ?? GEMINI_DEFAULT_BASE_URL).replace(/\/+$/, '');
  return `${root}/${config.apiVersion ?? GEMINI_DEFAULT_API_VERSION}`;
}
