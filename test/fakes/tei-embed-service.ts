import type { FakeRequest, FakeService } from '@hush/providers/testing';
import { fakeEmbedding } from './openai-fake-server.js';

/**
 * Hugging Face text-embeddings-inference's embedding routes as a `FakeService` (the description
 * `ServiceFake` of @hush/providers/testing hosts), as a type's author would write one:
 *
 *   POST /embed   {inputs, normalize?, truncate?, prompt_name?} → number[][]   errors {error, error_type}
 *   GET  /health  → 200, empty
 *
 * With `apiKey` (TEI's --api-key), every route wants `Authorization: Bearer <apiKey>`, and answers a
 * bare 401 otherwise. At most `maxBatch` inputs per request (TEI's --max-client-batch-size, 32).
 */
export function teiEmbedService(options: { apiKey?: string; maxBatch?: number; dimensions?: number } = {}): FakeService {
  const maxBatch = options.maxBatch ?? 32;
  const errorBody = (status: number, message: string) => ({
    error: message,
    error_type: status === 429 ? 'overloaded' : status === 503 ? 'unhealthy' : status >= 500 ? 'backend' : 'validation',
  });
  const refuse = (status: number, message: string) => ({ status, json: errorBody(status, message) });
  return {
    errorBody,
    inputsOf: (request: FakeRequest) => (request.method === 'POST' && Array.isArray(request.body?.inputs) ? request.body.inputs : undefined),
    answer(request) {
      if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`)
        return { status: 401, text: '', contentType: 'text/plain' };
      const route = `${request.method} ${request.pathname}`;
      if (route === 'GET /health') return { text: '', contentType: 'text/plain' };
      if (route !== 'POST /embed') return { status: 404, text: '', contentType: 'text/plain' };
      const body = request.body as { inputs?: unknown; normalize?: unknown; truncate?: unknown; prompt_name?: unknown } | undefined;
      if (!body || typeof body !== 'object') return refuse(422, 'Failed to deserialize the JSON body into the target type');
      const unknown = Object.keys(body).filter((k) => !['inputs', 'normalize', 'truncate', 'truncation_direction', 'prompt_name', 'dimensions'].includes(k));
      if (unknown.length) return refuse(422, `unknown field(s): ${unknown.join(', ')}`);
      const inputs = typeof body.inputs === 'string' ? [body.inputs] : body.inputs;
      if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((x) => typeof x !== 'string'))
        return refuse(422, 'inputs must be a string or a non-empty list of strings');
      if (inputs.length > maxBatch) return refuse(413, `batch size ${inputs.length} > maximum allowed batch size ${maxBatch}`);
      return { json: (inputs as string[]).map((text) => fakeEmbedding(text, options.dimensions ?? 8)) };
    },
  };
}
