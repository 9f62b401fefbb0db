import { IsNotEmpty, IsObject, IsOptional, IsString, IsUrl, Matches, ValidateBy } from 'class-validator';
import { AzureOpenAI } from 'openai';
import { Secret } from '../../core/config-fields.js';
import type { DriverContext } from '../../core/provider-definition.js';
import { limitedFetch, redactingLogger } from '../openai/openai-client.js';
import type { OpenAICallSite } from '../openai/openai-errors.js';
import { IsHeaderMap, SERVICE_URL_OPTIONS } from '../../toolkit/service-fields.js';

/**
 * The `azure-openai` type's connection (llm and embedding): the resource endpoint, a deployment,
 * an API version and the resource key, through the openai package's `AzureOpenAI` client, which
 * builds `{endpoint}/openai/deployments/{deployment}/...?api-version=...` and sends the key as `api-key`.
 */

/** The `api-version` used when the YAML gives none: the latest GA of the deployments-based inference API. */
export const AZURE_OPENAI_DEFAULT_API_VERSION = '2024-10-21';

// Retries and deadlines are the library's (through the signal); the SDK's own timeout is only a backstop.
const SDK_TIMEOUT_MS = 10 * 60_000;

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
    @IsOptional() @IsString() @Matches(/^\d{4}-\d{2}-\d{2}(-preview)?$/, { message: '$property must look like 2024-10-21 or 2025-04-01-preview' })
    apiVersion?: string;

    /** The resource's API key, sent as the `api-key` header. */
    @IsString() @IsNotEmpty() @Secret() apiKey!: string;

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
  apiKey: string;
  model?: string;
  headers?: Record<string, string>;
}

/**
 * Builds the `AzureOpenAI` client of one instance, and the call site its errors name. Everything comes
 * from the config: the SDK's environment fallbacks (AZURE_OPENAI_*, OPENAI_API_VERSION, OPENAI_BASE_URL,
 * OPENAI_ORG_ID, ...) are overridden, and the SDK makes one attempt.
 */
export function createAzureOpenAIClient(config: AzureOpenAIConnectionConfig, context: DriverContext): { client: AzureOpenAI; site: OpenAICallSite } {
  // baseURL rather than endpoint: the SDK would otherwise refuse to start when OPENAI_BASE_URL is set.
  const baseUrl = `${config.endpoint.replace(/\/+$/, '')}/openai`;
  const secrets = [config.apiKey, ...Object.values(config.headers ?? {})].filter((s) => s.length > 0);
  const options: ConstructorParameters<typeof AzureOpenAI>[0] = {
    apiKey: config.apiKey,
    apiVersion: config.apiVersion ?? AZURE_OPENAI_DEFAULT_API_VERSION,
    deployment: config.deployment,
    baseURL: baseUrl,
    adminAPIKey: null,
    organization: null,
    project: null,
    webhookSecret: null,
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    defaultHeaders: config.headers,
    logger: redactingLogger(context.logger, secrets),
  };
  const site: OpenAICallSite = { kind: context.kind, name: context.name, type: context.type, baseUrl: config.endpoint, secrets };
  options.fetch = limitedFetch(fetch, site, context.maxResponseBytes);
  return { client: new AzureOpenAI(options), site };
}
