import { createHash } from 'node:crypto';
import type { FakeAnswer, FakeService } from '@hush/providers/testing';

/** The fake's vector of a text: the same text always gets the same one, other texts others. */
export function acmeVector(text: string, size = 1024): number[] {
  const seed = createHash('sha256').update(text).digest();
  return Array.from({ length: size }, (_, i) => (seed[i % 32]! - 128 + (i % 97)) / 256);
}

/** The Acme API of the guide, as documented there: routes, key header, bodies, limits, errors. */
export function acmeService(options: { apiKey: string }): FakeService {
  const error = (status: number, message: string): FakeAnswer => ({ status, json: { error: { message } } });
  const isTexts = (value: unknown): value is string[] => Array.isArray(value) && value.length > 0 && value.every((t) => typeof t === 'string');
  const unknownKey = (body: object, known: string[]) => Object.keys(body).find((key) => !known.includes(key));

  function embed(body: any): FakeAnswer {
    const unknown = unknownKey(body ?? {}, ['model', 'texts', 'mode', 'size', 'truncate']);
    if (unknown) return error(400, `unknown field: ${unknown}`);
    if (typeof body?.model !== 'string' || !isTexts(body.texts)) return error(400, 'model and texts are required');
    if (body.texts.length > 64) return error(400, `at most 64 texts, got ${body.texts.length}`);
    if (body.mode !== undefined && !['query', 'document'].includes(body.mode)) return error(400, 'mode must be query or document');
    if (body.size !== undefined && ![256, 512].includes(body.size)) return error(400, 'size must be 256 or 512');
    if (body.truncate !== undefined && !['start', 'end'].includes(body.truncate)) return error(400, 'truncate must be start or end');
    const tokens = body.texts.join(' ').split(/\s+/).length;
    return { json: { model: body.model, vectors: body.texts.map((t: string) => acmeVector(t, body.size)), usage: { tokens } } };
  }

  function score(body: any): FakeAnswer {
    if (typeof body?.model !== 'string' || typeof body.query !== 'string' || !isTexts(body.candidates)) return error(400, 'model, query and candidates are required');
    if (body.candidates.length > 50) return error(400, `at most 50 candidates, got ${body.candidates.length}`);
    // How many letters of the query the candidate contains.
    const letters = [...new Set(body.query as string)];
    return { json: { scores: body.candidates.map((c: string) => letters.filter((ch) => c.includes(ch)).length) } };
  }

  return {
    errorBody: (_status, message) => ({ error: { message } }),
    inputsOf: (request) => (request.pathname === '/v1/embed' ? request.body?.texts : request.pathname === '/v1/score' ? request.body?.candidates : undefined),
    answer(request) {
      if (request.headers['x-acme-key'] !== options.apiKey) return error(401, 'bad key');
      const route = `${request.method} ${request.pathname}`;
      if (route === 'GET /v1/models') return { json: { models: ['acme-embed-1', 'acme-rerank-2'] } };
      if (route === 'POST /v1/embed') return embed(request.body);
      if (route === 'POST /v1/score') return score(request.body);
      return error(404, `no route ${route}`);
    },
  };
}
