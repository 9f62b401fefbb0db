/**
 * The names OpenTelemetry's GenAI semantic conventions (v1.41) give, and the library's own (`hush.*`).
 * Written out here rather than taken from @opentelemetry/semantic-conventions, whose GenAI names are
 * still in its "incubating" entry, which is not a stable import.
 */

export const ATTR = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  tokenType: 'gen_ai.token.type',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  embeddingDimensions: 'gen_ai.embeddings.dimension.count',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  // The library's own.
  instance: 'hush.instance',
  kind: 'hush.kind',
  type: 'hush.type',
  attempts: 'hush.attempts',
  attempt: 'hush.attempt',
  fallback: 'hush.fallback',
  deployment: 'hush.deployment',
  operationShape: 'hush.call',
  cost: 'hush.cost_usd',
  batchSize: 'hush.batch.size',
  documents: 'hush.rerank.documents',
  cache: 'hush.cache',
} as const;

/** `gen_ai.request.*` from the call's OpenAI parameters. */
export const REQUEST_PARAMS: ReadonlyArray<[param: string, attribute: string]> = [
  ['max_tokens', 'gen_ai.request.max_tokens'],
  ['max_completion_tokens', 'gen_ai.request.max_tokens'],
  ['temperature', 'gen_ai.request.temperature'],
  ['top_p', 'gen_ai.request.top_p'],
  ['frequency_penalty', 'gen_ai.request.frequency_penalty'],
  ['presence_penalty', 'gen_ai.request.presence_penalty'],
  ['seed', 'gen_ai.request.seed'],
  ['n', 'gen_ai.request.choice.count'],
  ['stop', 'gen_ai.request.stop_sequences'],
];

/**
 * `gen_ai.provider.name` of each type: the registry's well-known value where there is one, else
 * the type's own name (with `_` for `-`), which is what the conventions ask of a provider they do
 * not list.
 */
const PROVIDER_NAMES: Readonly<Record<string, string>> = {
  openai: 'openai',
  'azure-openai': 'azure.ai.openai',
  gemini: 'gcp.gemini',
  anthropic: 'anthropic',
  cohere: 'cohere',
};

export function providerName(type: string): string {
  return PROVIDER_NAMES[type] ?? type.replace(/-/g, '_');
}

/** The bucket boundaries the conventions give for `gen_ai.client.token.usage`. */
export const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** ... and for `gen_ai.client.operation.duration` (seconds), used for the time to the first chunk too. */
export const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** The service's host and port, from an API root. */
export function serverOf(url: string | undefined): { address: string; port: number } | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return { address: u.hostname, port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 };
  } catch {
    return undefined;
  }
}
