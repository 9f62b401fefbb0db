import { IsNotEmpty, IsObject, IsOptional, IsString, IsUrl, Matches, ValidateBy, ValidateIf } from '../../core/validation.js';
import { Secret } from '../../core/config-fields.js';
import type { DriverContext } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { IsHeaderMap, mergeHeaders, SERVICE_URL_OPTIONS } from '../../toolkit/service-fields.js';
import type { OpenAIRoutes } from '../openai/openai.llm.js';

/**
 * The `azure-openai` type's connection (llm and embedding): the resource endpoint, a deployment and
 * an API version, requests to `{endpoint}/openai/deployments/{deployment}/...?api-version=...`, with
 * either the resource key (`api-key`) or a Microsoft Entra ID token (`Authorization: Bearer`) from a
 * token provider given to the module.
 */

/** The `api-version` used when the YAML gives none: the latest GA of the deployments-based inference API. */
export const AZURE_OPENAI_DEFAULT_API_VERSION = '2024-10-21';

/** The resource endpoint alone: `https://<resource>.openai.azure.com` (a gateway's path prefix is fine). */
function IsAzureEndpoint(): PropertyDecorator {
  return ValidateBy({
    name: 'isAzureEndpoint',
    validator: {
      validate: (value: unknown) => {
        if (typeof value !== 'string') return false;
        try {
          const url = new URL(value);
          // The SDK appends /openai/deployments/{deployment}/...: a full request URL here would double it.
          return !url.search && !url.hash && !/\/openai(\/|$)/.test(url.pathname);
        } catch {
          return false;
        }
      },
      defaultMessage: () => '$property must be the resource endpoint (https://<resource>.openai.azure.com), without /openai/..., query or fragment',
    },
  });
}

type ConfigClass = new (...args: any[]) => object;

/** The fields of the `azure-openai` type, whichever kind. */
export function withAzureOpenAIFields<TBase extends ConfigClass>(Base: TBase) {
  class AzureOpenAIFields extends Base {
    /** The resource endpoint, `https://<resource>.openai.azure.com`. */
    @IsUrl(SERVICE_URL_OPTIONS) @IsAzureEndpoint() endpoint!: string;

    /** The deployment name chosen in Azure (requests go to /openai/deployments/<deployment>/...). */
    @IsString() @IsNotEmpty() @Matches(/^[^/?#\s]+$/, { message: '$property must be a deployment name, without "/", "?", "#" or spaces' }) deployment!: string;

    /** The `api-version` query parameter; default 2024-10-21 (GA). */
    @IsOptional()
    @IsString()
    @Matches(/^\d{4}-\d{2}-\d{2}(-preview)?$/, { message: '$property must look like 2024-10-21 or 2025-04-01-preview' })
    apiVersion?: string;

    /** The resource's API key, sent as the `api-key` header. Required unless `tokenProvider` is set. */
    @ValidateIf((config: { tokenProvider?: unknown }) => config.tokenProvider === undefined)
    @IsString()
    @IsNotEmpty()
    @Secret()
    apiKey?: string;

    /**
     * The name of a token provider given to the module (`forRoot({ tokenProviders: { <name>: fn } })`):
     * each request then carries `Authorization: Bearer <token>` (Microsoft Entra ID) instead of `api-key`.
     */
    @IsOptional() @IsString() @IsNotEmpty() @NotBoth('apiKey') tokenProvider?: string;

    /** The model name reported by the instance (and sent in the body); default: the deployment name. */
    @IsOptional() @IsString() @IsNotEmpty() model?: string;

    /** Extra HTTP headers sent with every request (an API gateway's); secret, since they often carry credentials. */
    @IsOptional() @IsObject() @IsHeaderMap() @Secret() headers?: Record<string, string>;
  }
  return AzureOpenAIFields;
}

/** What a driver needs to reach one Azure OpenAI deployment. */
export interface AzureOpenAIConnectionConfig {
  endpoint: string;
  deployment: string;
  apiVersion?: string;
  apiKey?: string;
  tokenProvider?: string;
  model?: string;
  headers?: Record<string, string>;
}

/**
 * The HTTP client of one deployment, and its routes (each with the `api-version`). Everything comes
 * from the config: no AZURE_OPENAI_* or OPENAI_* variable of the environment is read.
 */
export function createAzureHttpClient(config: AzureOpenAIConnectionConfig, context: DriverContext): { client: HttpClient; routes: OpenAIRoutes } {
  const endpoint = config.endpoint.replace(/\/+$/, '');
  const query = `?api-version=${encodeURIComponent(config.apiVersion ?? AZURE_OPENAI_DEFAULT_API_VERSION)}`;
  const provider = config.tokenProvider === undefined ? undefined : context.tokenProviders?.[config.tokenProvider];
  if (config.tokenProvider !== undefined && !provider) {
    const known = Object.keys(context.tokenProviders ?? {});
    throw new Error(
      `tokenProvider "${config.tokenProvider}" is not among the module's token providers (${known.length ? known.join(', ') : 'none given'}). ` +
        `Pass it to ProvidersModule.forRoot({ tokenProviders: { ${config.tokenProvider}: getBearerTokenProvider(credential, 'https://cognitiveservices.azure.com/.default') } }).`,
    );
  }
  const own: Record<string, string> = config.apiKey ? { 'api-key': config.apiKey } : {};
  const client = new HttpClient(
    {
      baseUrl: `${endpoint}/openai/deployments/${encodeURIComponent(config.deployment)}`,
      headers: mergeHeaders(config.headers, own),
      authorize: provider ? async () => ({ authorization: `Bearer ${await provider()}` }) : undefined,
    },
    context,
  );
  return {
    client,
    routes: { chat: `/chat/completions${query}`, embeddings: `/embeddings${query}`, models: `/models${query}` },
  };
}

/** Exactly one of two keys: `key` may not be set beside this one. */
function NotBoth(key: string): PropertyDecorator {
  return ValidateBy({
    name: 'notBoth',
    validator: {
      validate: (_value: unknown, args) => (args?.object as Record<string, unknown>)[key] === undefined,
      defaultMessage: () => `$property and ${key} exclude each other: keep one`,
    },
  });
}
