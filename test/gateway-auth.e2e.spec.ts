import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeysFromEnv } from '../src/gateway-options.js';
import { postJson, startGateway, type GatewayHarness } from './support/gateway-harness.js';

const KEYS = ['gw-key-one-aaaaaaaa', 'gw-key-two-bbbbbbbb'];
let gw: GatewayHarness;

beforeAll(async () => {
  gw = await startGateway({ apiKeys: KEYS });
});
afterAll(async () => {
  await gw?.close();
});

const missing = {
  error: {
    message:
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    type: 'invalid_request_error',
    param: null,
    code: 'missing_api_key',
  },
};
const wrong = { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } };
const chatBody = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

describe('client authentication (GATEWAY_API_KEYS)', () => {
  it('refuses every /v1 route without a key: 401 in OpenAI shape, WWW-Authenticate: Bearer, upstream untouched', async () => {
    for (const [method, path, body] of [
      ['POST', '/v1/chat/completions', chatBody],
      ['POST', '/v1/embeddings', { model: 'docs', input: 'x' }],
      ['POST', '/v1/rerank', { model: 'rerank', query: 'q', documents: ['a'] }],
      ['POST', '/v2/rerank', { model: 'rerank', query: 'q', documents: ['a'] }],
      ['GET', '/v1/models', undefined],
      ['GET', '/v1/models/chat', undefined],
    ] as const) {
      const res = await fetch(`${gw.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
      expect([path, res.status]).toEqual([path, 401]);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toEqual(missing);
    }
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('checks auth before the body: a bad body without a key is 401, not 400', async () => {
    const res = await postJson(`${gw.baseURL}/chat/completions`, { model: 5 });
    expect(res.status).toBe(401);
  });

  it('refuses a wrong key (and a non-Bearer scheme) without echoing it', async () => {
    for (const authorization of ['Bearer gw-key-one-aaaaaaab', 'Bearer gw-key-one', `Basic ${KEYS[0]}`, `Bearer ${KEYS[0]}x`]) {
      const res = await postJson(`${gw.baseURL}/chat/completions`, chatBody, { authorization });
      expect([authorization, res.status]).toEqual([authorization, 401]);
      expect(res.body).toEqual(authorization.startsWith('Basic') ? missing : wrong);
      expect(res.text).not.toContain('gw-key');
    }
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('accepts each configured key, through the official client', async () => {
    for (const apiKey of KEYS) {
      const client = new OpenAI({ apiKey, baseURL: gw.baseURL, maxRetries: 0 });
      const completion = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'authorized' }] });
      expect(completion.choices[0]!.message.content).toBe('echo: authorized');
      const models = await client.models.list();
      expect(models.data.length).toBeGreaterThan(0);
    }
    // The gateway's client key is not forwarded: the upstream gets its own configured key.
    expect(gw.upstream.lastRequest!.headers.authorization).not.toContain('gw-key');
  });

  it('the official client with a wrong key gets an AuthenticationError', async () => {
    const client = new OpenAI({ apiKey: 'not-a-gateway-key', baseURL: gw.baseURL, maxRetries: 0 });
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('leaves /health and /health/ready open', async () => {
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    // Open, but not ready: the harness's "down" instance points at a closed port.
    expect((await fetch(`${gw.url}/health/ready`)).status).toBe(503);
  });
});

/**
 * Starts a POST, writes only `first` of its body, and waits for the answer without sending the rest:
 * a server that reads the whole body before answering never answers here.
 */
function answerBeforeBody(
  path: string,
  headers: Record<string, string>,
  first: string,
  waitMs = 3000,
): Promise<{ status: number; headers: Record<string, unknown>; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${waitMs} ms while the body was still being sent`));
    }, waitMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) });
      });
    });
    // The server may close its side once it has answered; the rest of the body was never going to be sent.
    req.on('error', () => undefined);
    req.write(first);
  });
}

describe('the key is checked before the body is read', () => {
  it('malformed JSON without a key: 401, not 400', async () => {
    const res = await postJson(`${gw.baseURL}/chat/completions`, '{"model": "chat", "messages": [');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.body).toEqual(missing);
    const wrongKey = await postJson(`${gw.baseURL}/embeddings`, '{not json', { authorization: 'Bearer gw-key-nope-cccccccc' });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body).toEqual(wrong);
  });

  it('a body over the limit without a key: 401 before the body is sent (not 413, not read)', async () => {
    // 25 MB announced (the limit is 20 MB), 64 KB sent.
    const res = await answerBeforeBody('/v1/embeddings', { 'content-length': String(25 * 1024 * 1024) }, `{"model":"docs","input":"${'x'.repeat(64 * 1024)}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toEqual(missing);
  });

  it('a body streamed slowly without a key is answered at once, before it ends', async () => {
    const before = gw.upstream.requests.length;
    const res = await answerBeforeBody('/v1/chat/completions', { 'transfer-encoding': 'chunked' }, '{"model": "chat", "messages": [');
    expect(res.status).toBe(401);
    expect(res.body).toEqual(missing);
    const wrongKey = await answerBeforeBody(
      '/v2/rerank',
      { 'transfer-encoding': 'chunked', authorization: 'Bearer gw-key-one-aaaaaaab' },
      '{"model": "rerank"',
    );
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body).toEqual(wrong);
    expect(gw.upstream.requests).toHaveLength(before);
  });

  it('with a good key the body is read as before: malformed → 400 invalid_json', async () => {
    const authorization = `Bearer ${KEYS[1]}`;
    const malformed = await postJson(`${gw.baseURL}/chat/completions`, '{"model": "chat", "messages": [', { authorization });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
    const ok = await postJson(`${gw.baseURL}/chat/completions`, chatBody, { authorization });
    expect(ok.status).toBe(200);
  });
});

describe('GATEWAY_API_KEYS parsing', () => {
  it('splits on commas, trims, drops empty entries; unset means no auth', () => {
    expect(apiKeysFromEnv({ GATEWAY_API_KEYS: ' a-key , ,b-key,' })).toEqual(['a-key', 'b-key']);
    expect(apiKeysFromEnv({})).toEqual([]);
    expect(apiKeysFromEnv({ GATEWAY_API_KEYS: ' , ' })).toEqual([]);
  });
});
