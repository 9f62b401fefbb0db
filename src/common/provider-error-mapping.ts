import { ProviderError } from '@hush/providers';
import { OpenAIError } from './openai-error.js';

/**
 * How a failed upstream call is answered (README: "Error mapping"):
 *
 * | library error                                              | status | code                      |
 * |------------------------------------------------------------|--------|---------------------------|
 * | code `timeout` / `idle-timeout` (deadline, stalled stream)  | 504    | upstream_timeout          |
 * | upstream 429                                               | 503    | upstream_rate_limited     |
 * | upstream 503 / 529 (overloaded), code `connection`, `queue-full`, retryable stream error | 503 | upstream_unavailable |
 * | upstream 400 / 413 / 422 (it refused the request's parameters) | 400 | upstream_rejected_request |
 * | code `bad-input` (the library refused the input)           | 400    | invalid_value             |
 * | any other upstream status (5xx, 401, 403, 404, ...), bad response, anything else | 502 | upstream_error |
 *
 * The message is the library's (secrets are already redacted there) and always names the
 * upstream's HTTP status when there was one. A `Retry-After` header is passed on when the upstream sent one.
 */
export function providerErrorToOpenAI(err: ProviderError): OpenAIError {
  const status = err.status;
  const code = err.code;
  let message = err.message;
  if (status !== undefined && !message.includes(String(status))) message += ` (upstream status ${status})`;
  const headers: Record<string, string> = {};
  if (err.retryAfterMs !== undefined && err.retryAfterMs >= 0) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));

  const upstream = (httpStatus: number, errorCode: string) =>
    new OpenAIError(httpStatus, { message, type: 'upstream_error', param: null, code: errorCode }, httpStatus === 503 ? headers : {});

  if (code === 'timeout' || code === 'idle-timeout') return upstream(504, 'upstream_timeout');
  if (status === 429) return upstream(503, 'upstream_rate_limited');
  if (status === 503 || status === 529 || code === 'connection' || code === 'queue-full') return upstream(503, 'upstream_unavailable');
  if (code === 'stream-error' && err.retryable) return upstream(503, 'upstream_unavailable');
  if (code === 'bad-input') return new OpenAIError(400, { message, type: 'invalid_request_error', param: null, code: 'invalid_value' });
  if (status === 400 || status === 413 || status === 422) {
    return new OpenAIError(400, { message, type: 'invalid_request_error', param: null, code: 'upstream_rejected_request' });
  }
  return upstream(502, 'upstream_error');
}
