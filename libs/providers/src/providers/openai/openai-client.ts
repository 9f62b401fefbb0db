import { IsNotEmpty, IsObject, IsOptional, IsString, IsUrl } from '../../core/validation.js';
import { Secret } from '../../core/config-fields.js';
import type { DriverContext } from '../../core/provider-definition.js';
import { HttpClient } from '../../http/http-client.js';
import { IsHeaderMap, mergeHeaders, SERVICE_URL_OPTIONS, urlSecrets } from '../../toolkit/service-fields.js';

/** The API root of the `openai` type when `baseUrl` is not given. */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

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
 * The HTTP client of one instance of an OpenAI-speaking type: the API root, `Authorization: Bearer
 * <apiKey>` when there is a key (it wins over an Authorization in `headers`; without a key, such a
 * header goes out as given), `OpenAI-Organization` and `OpenAI-Project`. Everything comes from the
 * config: no environment variable (OPENAI_API_KEY, OPENAI_BASE_URL, ...) is read, so a local server
 * never receives the OpenAI key of the environment.
 */
export function createOpenAIHttpClient(config: OpenAIConnectionConfig, context: DriverContext): HttpClient {
  const baseUrl = config.baseUrl ?? OPENAI_DEFAULT_BASE_URL;
  const own: Record<string, string> = {};
  if (config.apiKey) own.authorization = `Bearer ${config.apiKey}`;
  if (config.organization) own['openai-organization'] = config.organization;
  if (config.project) own['openai-project'] = config.project;
  return new HttpClient(
    { baseUrl, headers: mergeHeaders(config.headers, own), secrets: [config.apiKey, ...urlSecrets(baseUrl)].filter((s): s is string => !!s) },
    context,
  );
}
