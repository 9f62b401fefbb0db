import { formatWithOptions } from 'node:util';
import type { LoggerService } from '@nestjs/common';
import { IsNotEmpty, IsObject, IsOptional, IsString, IsUrl } from 'class-validator';
import OpenAI, { type ClientOptions } from 'openai';
import { Secret } from '../../core/config-fields.js';
import type { DriverContext } from '../../core/provider-definition.js';
import type { OpenAICallSite } from './openai-errors.js';
import { redactSecrets } from '../../core/redact.js';
import { IsHeaderMap, SERVICE_URL_OPTIONS, urlSecrets } from '../../toolkit/service-fields.js';
import { boundedFetch, DEFAULT_MAX_RESPONSE_BYTES, responseTooLarge } from '../../http/response-limits.js';

/** The API root of the `openai` type when `baseUrl` is not given. */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

// Retries and deadlines are the library's (through the signal); the SDK makes one attempt, and its
// own timeout is only a backstop.
const SDK_TIMEOUT_MS = 10 * 60_000;

 
type ConfigClass = new (...args: any[]) => object;

/** `model` and `headers`: the same for every OpenAI-speaking type and kind. */
function withModelAndHeaders<TBase extends ConfigClass>(Base: TBase) {
  class ModelAndHeaders extends Base {
    /** The model name sent with every request (`gpt-4o-mini`, `text-embedding-3-small`, ...). */
    @IsString() @IsNotEmpty() model!: string;

    /** Extra HTTP headers sent with every request; secret, since they often carry credentials. */
    @IsOptional() @IsObject() @IsHeaderMap() @Secret() headers?: Record<string, string>;
  }
  return ModelAndHeaders;
}

/** The fields of the `openai` type (llm and embedding): OpenAI's own service. */
export function withOpenAIFields<TBase extends ConfigClass>(Base: TBase) {
  class OpenAIFields extends withModelAndHeaders(Base) {
    /** The OpenAI API key. */
    @IsString() @IsNotEmpty() @Secret() apiKey!: string;

    /** The API root; default https://api.openai.com/v1 (a proxy in front of OpenAI goes here). */
    @IsOptional() @IsUrl(SERVICE_URL_OPTIONS) baseUrl?: string;

    /** The OpenAI organization id, sent as `OpenAI-Organization`. */
    @IsOptional() @IsString() @IsNotEmpty() organization?: string;

    /** The OpenAI project id, sent as `OpenAI-Project`. */
    @IsOptional() @IsString() @IsNotEmpty() project?: string;
  }
  return OpenAIFields;
}

/** The fields of the `openai-compatible` type (llm and embedding): vLLM, Ollama, llama.cpp, LM Studio, ... */
export function withCompatibleFields<TBase extends ConfigClass>(Base: TBase) {
  class CompatibleFields extends withModelAndHeaders(Base) {
    /** The server's API root, with its `/v1` (`http://127.0.0.1:8080/v1`). */
    @IsUrl(SERVICE_URL_OPTIONS) baseUrl!: string;

    /** Sent as `Authorization: Bearer <apiKey>` when given; no Authorization header otherwise. */
    @IsOptional() @IsString() @IsNotEmpty() @Secret() apiKey?: string;
  }
  return CompatibleFields;
}

/** What a driver needs to reach an OpenAI-speaking service (the fields above, whichever type). */
export interface OpenAIConnectionConfig {
  model: string;
  apiKey?: string;
  baseUrl?: string;
  organization?: string;
  project?: string;
  headers?: Record<string, string>;
}

/**
 * Builds the SDK client for one instance, and the call site its errors name. Everything comes
 * from the config: the SDK's environment fallbacks (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID,
 * ...) are turned off, so a local server never receives the OpenAI key of the environment.
 */
export function createOpenAIClient(
  config: OpenAIConnectionConfig,
  context: DriverContext,
  extra: { fetch?: ClientOptions['fetch'] } = {},
): { client: OpenAI; site: OpenAICallSite } {
  const baseUrl = config.baseUrl ?? OPENAI_DEFAULT_BASE_URL;
  const secrets = [config.apiKey, ...Object.values(config.headers ?? {}), ...urlSecrets(baseUrl)].filter((s): s is string => !!s);
  const options: ClientOptions = {
    // The SDK refuses to start without a key; without one, the Authorization header is removed below.
    apiKey: config.apiKey ?? 'no-key',
    adminAPIKey: null,
    organization: config.organization ?? null,
    project: config.project ?? null,
    webhookSecret: null,
    baseURL: baseUrl,
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    // The library's one rule (see mergeHeaders): with an apiKey, the key's Authorization wins over `headers`.
    defaultHeaders: { ...(config.apiKey ? {} : { Authorization: null }), ...withoutAuthorization(config.headers, !!config.apiKey) },
    logger: redactingLogger(context.logger, secrets),
  };
  const site: OpenAICallSite = { kind: context.kind, name: context.name, type: context.type, baseUrl, secrets };
  options.fetch = limitedFetch(extra.fetch ?? fetch, site, context.maxResponseBytes);
  return { client: new OpenAI(options), site };
}

/** The SDK's fetch, bounded by the instance's `maxResponseBytes` (a JSON body, or one event of a stream). */
export function limitedFetch(inner: typeof fetch, site: OpenAICallSite, maxBytes = DEFAULT_MAX_RESPONSE_BYTES): typeof fetch {
  return boundedFetch(inner, maxBytes, (what) => responseTooLarge(site, maxBytes, what));
}

/** The SDK's logger interface on top of the instance's Nest logger, every line redacted. */
export function redactingLogger(logger: LoggerService, secrets: readonly string[]): NonNullable<ClientOptions['logger']> {
  const line = (args: unknown[]) => redactSecrets(formatWithOptions({ depth: 4, breakLength: Infinity }, ...args), secrets);
  return {
    error: (...args: unknown[]) => logger.error(line(args)),
    warn: (...args: unknown[]) => logger.warn(line(args)),
    info: (...args: unknown[]) => logger.log(line(args)),
    debug: (...args: unknown[]) => (logger.debug ?? logger.verbose)?.call(logger, line(args)),
  };
}

function withoutAuthorization(headers: Record<string, string> | undefined, drop: boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => !(drop && name.toLowerCase() === 'authorization')));
}
