import { ProviderError } from '@hush/providers';
import { CLIENT_ERROR_STATUSES, describeFailure } from '@hush/providers/health';
import { OpenAIError } from './openai-error.js';

/**
 * How a failed upstream call is answered (the same table is in the README's gateway section):
 *
 * | library error                                              | status | code                      |
 * |------------------------------------------------------------|--------|---------------------------|
 * | code `closed` (the gateway is shutting down)               | 503    | server_shutting_down      |
 * | code `timeout` / `idle-timeout` (deadline, stalled stream)  | 504    | upstream_timeout          |
 * | upstream 429, code `rate-limited` (the instance's rpm/tpm) | 503    | upstream_rate_limited     |
 * | upstream 503 / 529 (overloaded), code `connection`, `queue-full`, retryable stream error | 503 | upstream_unavailable |
 * | upstream 400 / 404 / 413 / 422 (about the request)         | the upstream's | the upstream's `code`, else upstream_rejected_request |
 * | code `bad-input` (the library refused the input)           | 400    | invalid_value             |
 * | any other upstream status (5xx, 401, 403, ...), bad response, anything else | 502 | upstream_error |
 *
 * For the upstream client errors, `param` and `type` are the upstream's too (else null and
 * `invalid_request_error`): clients act on them (`context_length_exceeded` on `messages`).
 *
 * The message names the instance and the kind of failure (`llm "chat" (openai-compatible) failed
 * (connection): cannot reach the upstream (ECONNREFUSED)`), never the upstream's URL, host or port:
 * API clients must not learn the internal topology. The upstream's own words are passed on only for
 * the client errors above. The full library message goes to the log (see `GatewayErrors`).
 * A `Retry-After` header is passed on with 503s when the upstream sent one.
 */
export function providerErrorToOpenAI(err: ProviderError): OpenAIError {
  const status = err.status;
  const code = err.code;
  const { failure, summary, label } = describeFailure(err);
  const message = `${label ?? `"${err.instance}"`} failed (${failure}): ${summary}`;
  const headers: Record<string, string> = {};
  if (err.retryAfterMs !== undefined && err.retryAfterMs >= 0) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));

  const upstream = (httpStatus: number, errorCode: string) =>
    new OpenAIError(httpStatus, { message, type: 'upstream_error', param: null, code: errorCode }, httpStatus === 503 ? headers : {});

  if (code === 'closed') {
    // Not the upstream's fault, nor the instance's: this replica is going away. Another one can serve
    // the request at once, and closing the connection sends the client's next request elsewhere.
    return new OpenAIError(
      503,
      { message: 'The gateway is shutting down; retry the request on another replica.', type: 'server_error', param: null, code: 'server_shutting_down' },
      { 'retry-after': '1', connection: 'close' },
    );
  }
  if (code === 'timeout' || code === 'idle-timeout') return upstream(504, 'upstream_timeout');
  if (status === 429 || code === 'rate-limited') return upstream(503, 'upstream_rate_limited');
  if (status === 503 || status === 529 || code === 'connection' || code === 'queue-full') return upstream(503, 'upstream_unavailable');
  if (code === 'stream-error' && err.retryable) return upstream(503, 'upstream_unavailable');
  if (code === 'bad-input') return new OpenAIError(400, { message, type: 'invalid_request_error', param: null, code: 'invalid_value' });
  if (status !== undefined && CLIENT_ERROR_STATUSES.has(status)) {
    // A 404 here is often the gateway's own config (a model name the upstream does not know); the
    // message names the instance so that the operator can find it.
    return new OpenAIError(status, {
      message,
      type: err.upstream?.type ?? 'invalid_request_error',
      param: err.upstream?.param ?? null,
      code: err.upstream?.code ?? 'upstream_rejected_request',
    });
  }
  return upstream(502, 'upstream_error');
}
