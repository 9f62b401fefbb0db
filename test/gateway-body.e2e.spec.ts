import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootstrap } from '../src/app.js';
import { startGateway, UPSTREAM_KEY, type GatewayHarness } from './support/gateway-harness.js';

/**
 * How the gateway reads request bodies: JSON only, in a UTF, inflated when compressed, up to the
 * body limit (here 2 KiB), with OpenAI-shaped refusals; and the paths as clients may write them.
 */

let gw: GatewayHarness;
beforeAll(async () => {
  gw = await startGateway({ gateway: { bodyLimit: '2kb' } });
});
afterAll(async () => {
  await gw?.close();
});
beforeEach(() => gw.upstream.reset());

const chat = (content = 'hi') => JSON.stringify({ model: 'chat', messages: [{ role: 'user', content }] });
const error = (message: string, code: string | null, param: string | null = null) => ({ error: { message, type: 'invalid_request_error', param, code } });
const NOT_JSON = error('The request body must be a JSON object, sent with Content-Type: application/json.', 'invalid_json');
const UNPARSABLE = error(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
  'invalid_json',
);
const TOO_LARGE = error('The request body is too large.', 'request_too_large');
const NOT_UTF = error('The request body must be JSON in UTF-8.', 'unsupported_encoding');

/** A raw POST (node:http): any headers, a body in one piece or in chunks (then sent chunked). */
function post(path: string, headers: Record<string, string>, body?: Buffer | string | Array<Buffer | string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.url}${path}`, { method: 'POST', headers });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
        resolve({ status: res.statusCode!, body: parsed });
      });
    });
    req.on('error', reject);
    if (Array.isArray(body)) for (const piece of body) req.write(piece);
    else if (body !== undefined) req.write(body);
    req.end();
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

describe('request bodies', () => {
  it('reads gzip, deflate and br bodies', async () => {
    for (const [encoding, compress] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
      ['br', brotliCompressSync],
    ] as const) {
      const res = await post('/v1/chat/completions', { ...JSON_TYPE, 'content-encoding': encoding }, compress(Buffer.from(chat(`squeezed ${encoding}`))));
      expect([encoding, res.status]).toEqual([encoding, 200]);
      expect(res.body.choices[0].message.content).toBe(`echo: squeezed ${encoding}`);
    }
  });

  it('refuses another content encoding, or a charset that is not a UTF, with 415 unsupported_encoding', async () => {
    expect(await post('/v1/chat/completions', { ...JSON_TYPE, 'content-encoding': 'compress' }, chat())).toEqual({ status: 415, body: NOT_UTF });
    expect(await post('/v1/chat/completions', { 'content-type': 'application/json; charset=latin1' }, chat())).toEqual({ status: 415, body: NOT_UTF });
    expect(await post('/v1/embeddings', { 'content-type': 'application/json; charset="iso-8859-1"' }, '{"model":"docs","input":"x"}')).toEqual({
      status: 415,
      body: NOT_UTF,
    });
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('takes charset=utf-8 in any case, a byte order mark, the type in any case', async () => {
    for (const [type, body] of [
      ['application/json; charset=UTF-8', chat('one')],
      ['Application/JSON', chat('two')],
      ['application/json;charset=utf-8', `\ufeff${chat('three')}`],
    ] as const) {
      const res = await post('/v1/chat/completions', { 'content-type': type }, body);
      expect([type, res.status]).toEqual([type, 200]);
    }
    expect(gw.upstream.requests.map((r) => r.body.messages[0].content)).toEqual(['one', 'two', 'three']);
  });

  it('refuses a body over the limit with 413 request_too_large: announced, chunked, or once inflated', async () => {
    const big = chat('x'.repeat(3000));
    expect(await post('/v1/chat/completions', JSON_TYPE, big)).toEqual({ status: 413, body: TOO_LARGE });
    expect(await post('/v1/chat/completions', JSON_TYPE, [big.slice(0, 1000), big.slice(1000, 2000), big.slice(2000)])).toEqual({
      status: 413,
      body: TOO_LARGE,
    });
    const bomb = gzipSync(Buffer.from(big));
    expect(bomb.length).toBeLessThan(2048);
    expect(await post('/v1/chat/completions', { ...JSON_TYPE, 'content-encoding': 'gzip' }, bomb)).toEqual({ status: 413, body: TOO_LARGE });
    // Just under the limit is read.
    const fits = chat('x'.repeat(1900));
    expect(Buffer.byteLength(fits)).toBeLessThanOrEqual(2048);
    expect((await post('/v1/chat/completions', JSON_TYPE, fits)).status).toBe(200);
    expect(gw.upstream.requests).toHaveLength(1);
  });

  it('reads strict JSON: an object or an array; an empty body is {}', async () => {
    for (const text of ['"just a string"', 'null', '42', 'true', '{"model": "chat",', '  \n']) {
      const res = await post('/v1/chat/completions', JSON_TYPE, text);
      expect([text, res]).toEqual([text, { status: 400, body: UNPARSABLE }]);
    }
    expect(await post('/v1/chat/completions', JSON_TYPE, '[{"model": "chat"}]')).toEqual({ status: 400, body: NOT_JSON });
    expect(await post('/v1/chat/completions', { ...JSON_TYPE, 'content-length': '0' }, '')).toEqual({
      status: 400,
      body: error("Missing required parameter: 'model'.", 'missing_required_parameter', 'model'),
    });
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('reads no body that is not JSON, nor a request without a body', async () => {
    const types: Array<Record<string, string>> = [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'json' },
      { 'content-type': 'application/json-seq' },
      {},
    ];
    for (const headers of types) {
      const res = await post('/v1/chat/completions', headers, chat());
      expect([headers, res]).toEqual([headers, { status: 400, body: NOT_JSON }]);
    }
    expect(await post('/v1/chat/completions', {})).toEqual({ status: 400, body: NOT_JSON });
    expect(await post('/v1/embeddings', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--')).toEqual({ status: 400, body: NOT_JSON });
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('a client that leaves in the middle of its body costs nothing: no upstream call, the next requests answered', async () => {
    for (const headers of [JSON_TYPE, { ...JSON_TYPE, 'content-encoding': 'gzip' }] as Array<Record<string, string>>) {
      const half = headers['content-encoding'] ? gzipSync(Buffer.from(chat('gone'))).subarray(0, 20) : chat('gone').slice(0, 20);
      await new Promise<void>((resolve) => {
        const req = request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { ...headers, 'content-length': '500' } });
        req.on('error', () => resolve());
        req.write(half, () => setTimeout(() => req.destroy(), 50));
        req.on('close', () => resolve());
      });
    }
    expect((await post('/v1/chat/completions', JSON_TYPE, chat('after'))).status).toBe(200);
    expect(gw.upstream.requests.map((r) => r.body.messages[0].content)).toEqual(['after']);
  });

  it('routes paths in any case and with a trailing slash, as before', async () => {
    expect((await post('/v1/chat/completions/', JSON_TYPE, chat())).status).toBe(200);
    expect((await post('/V1/Chat/Completions', JSON_TYPE, chat())).status).toBe(200);
    const models = await fetch(`${gw.url}/v1/models/`);
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
    expect((await fetch(`${gw.url}/v1/models/docs`)).status).toBe(200);
  });
});

describe('GATEWAY_BODY_LIMIT', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-body-'));
    writeFileSync(
      join(dir, 'providers.yaml'),
      ['llm:', '  chat:', '    type: openai-compatible', '    baseUrl: ${UPSTREAM_URL}', '    apiKey: ${UPSTREAM_KEY}', '    model: gpt-4o-mini', ''].join(
        '\n',
      ),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const env = (limit: string) => ({
    PROVIDERS_CONFIG: join(dir, 'providers.yaml'),
    PORT: '0',
    HOST: '127.0.0.1',
    GATEWAY_BODY_LIMIT: limit,
    UPSTREAM_URL: gw.upstream.baseUrl,
    UPSTREAM_KEY,
  });

  it('sets the largest body npm start reads', async () => {
    const app = await bootstrap({ env: env('1kb'), app: { logger: false, forceCloseConnections: true } });
    try {
      const url = await app.getUrl();
      const over = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: JSON_TYPE, body: chat('x'.repeat(1100)) });
      expect(over.status).toBe(413);
      expect(await over.json()).toEqual(TOO_LARGE);
      const under = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: JSON_TYPE, body: chat('x'.repeat(900)) });
      expect(under.status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('refuses a value that is not a size, at bootstrap', async () => {
    await expect(bootstrap({ env: env('lots'), app: { logger: false } })).rejects.toThrow('"lots"');
  });
});
