import { describe, expect, it } from 'vitest';
import { ProviderError, type ProviderErrorInit } from '@hush/providers';
import { providerErrorToOpenAI } from '../src/common/provider-error-mapping.js';

/** The gateway's answer to a library error, without a server: status, body, headers. */
function mapped(message: string, init: Partial<ProviderErrorInit>) {
  const error = providerErrorToOpenAI(new ProviderError(message, { instance: 'chat', type: 'openai-compatible', kind: 'llm', retryable: false, ...init }));
  return { status: error.getStatus(), body: error.body, headers: error.headers };
}

const LABEL = 'llm "chat" (openai-compatible)';
const URL_RE = /https?:\/\/|10\.0\.3\.7|:8000/;

describe('providerErrorToOpenAI', () => {
  it('passes an upstream client error on with its status, code, param and type', () => {
    for (const status of [400, 404, 413, 422]) {
      const out = mapped(`${LABEL}: upstream answered ${status}: too long (request id req_1)`, {
        status,
        code: 'http',
        upstream: { code: 'context_length_exceeded', param: 'messages', type: 'invalid_request_error' },
      });
      expect(out.status).toBe(status);
      expect(out.body).toMatchObject({ type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' });
      expect(out.body.message).toContain('"chat"');
      expect(out.body.message).toContain('too long');
    }
  });

  it("falls back to the gateway's own code and type where the upstream gave none", () => {
    const out = mapped(`${LABEL}: upstream answered 422 Unprocessable Entity: bad input`, { status: 422, code: 'http', upstream: { param: 'input' } });
    expect(out.status).toBe(422);
    expect(out.body).toEqual({
      message: expect.stringContaining('bad input'),
      type: 'invalid_request_error',
      param: 'input',
      code: 'upstream_rejected_request',
    });
    const bare = mapped(`${LABEL}: upstream answered 400 Bad Request`, { status: 400, code: 'http' });
    expect(bare.body).toMatchObject({ type: 'invalid_request_error', param: null, code: 'upstream_rejected_request' });
  });

  it('keeps the rest of the table: 429 → 503, timeouts → 504, other statuses → 502', () => {
    expect(mapped(`${LABEL}: upstream answered 429`, { status: 429, code: 'http', retryAfterMs: 2500 })).toMatchObject({
      status: 503,
      body: { code: 'upstream_rate_limited' },
      headers: { 'retry-after': '3' },
    });
    expect(mapped(`${LABEL}: no answer within timeoutMs 400 ms`, { code: 'timeout' })).toMatchObject({ status: 504, body: { code: 'upstream_timeout' } });
    expect(mapped(`${LABEL}: upstream answered 401: nope`, { status: 401, code: 'http', upstream: { code: 'invalid_api_key' } })).toMatchObject({
      status: 502,
      body: { code: 'upstream_error', param: null },
    });
    expect(mapped(`${LABEL}: upstream answered 500`, { status: 500, code: 'http', upstream: { code: 'server_error', param: 'x' } })).toMatchObject({
      status: 502,
      body: { code: 'upstream_error', param: null },
    });
  });

  it('a call refused because the gateway is shutting down is 503 server_shutting_down, to be retried elsewhere', () => {
    for (const message of [
      `${LABEL}: the instance is shut down (application closing); no new calls are taken.`,
      `${LABEL}: aborted by shutdown after 10000 ms of grace.`,
    ]) {
      const out = mapped(message, { code: 'closed' });
      expect(out.status).toBe(503);
      expect(out.body).toEqual({
        message: 'The gateway is shutting down; retry the request on another replica.',
        type: 'server_error',
        param: null,
        code: 'server_shutting_down',
      });
      expect(out.headers).toMatchObject({ 'retry-after': '1', connection: 'close' });
    }
  });

  it('never puts the upstream address in the message', () => {
    const cases: Array<[string, Partial<ProviderErrorInit>]> = [
      [`${LABEL}: cannot reach http://10.0.3.7:8000/v1 (ECONNREFUSED: connect ECONNREFUSED 10.0.3.7:8000)`, { code: 'connection', retryable: true }],
      [`${LABEL}: the connection to http://10.0.3.7:8000/v1 broke (UND_ERR_SOCKET: other side closed)`, { code: 'connection', retryable: true }],
      [`${LABEL}: no answer from http://10.0.3.7:8000/v1 in time`, { code: 'timeout', retryable: true }],
      [`${LABEL}: upstream answered 502 Bad Gateway: <html>nginx at 10.0.3.7:8000</html>`, { status: 502, code: 'http' }],
      [`${LABEL}: upstream answered 400 Bad Request: see http://10.0.3.7:8000/docs`, { status: 400, code: 'http' }],
      [`${LABEL}: bad response from upstream: http://10.0.3.7:8000/v1 sent HTML`, { code: 'bad-response' }],
      [`${LABEL}: fetch to http://10.0.3.7:8000/v1 failed`, { code: 'internal' }],
    ];
    for (const [message, init] of cases) {
      const out = mapped(message, init);
      expect([message, out.body.message]).not.toEqual([message, expect.stringMatching(URL_RE)]);
      expect(out.body.message).toContain('"chat"');
    }
    expect(mapped(cases[0]![0], cases[0]![1]).body.message).toContain('ECONNREFUSED');
    expect(mapped(cases[0]![0], cases[0]![1]).body.message).toContain('connection');
  });
});
