import { STATUS_CODES } from 'node:http';
import { describeSite, siteOf } from '../../core/call-site.js';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { isAbortError, ProviderAbortError, ProviderError } from '../../core/provider-error.js';
import { displayUrl, isRetryableStatus, MAX_UPSTREAM_TEXT, networkReason, retryAfterMs, upstreamDetail, type HttpCallSite } from '../../http/http-errors.js';
import { redactSecrets } from '../../core/redact.js';

/** Where an SDK call went (the same as any HTTP call's site). */
export type OpenAICallSite = HttpCallSite;

/**
 * Turns whatever the openai SDK (or fetch under it) threw into the library's errors:
 * `ProviderAbortError` for cancellations, `ProviderError` for everything else. Messages and causes are
 * redacted; the SDK error itself (which holds the upstream body and headers) is never kept.
 */
export function toProviderError(err: unknown, site: OpenAICallSite, signal?: AbortSignal): Error {
  if (err instanceof ProviderError || err instanceof ProviderAbortError) return err;
  const label = describeSite(site);
  const redact = (text: string) => redactSecrets(text, site.secrets);

  // Whatever broke once the caller aborted, the caller asked for it: an AbortError, at once.
  if (signal?.aborted || err instanceof APIUserAbortError || isAbortError(err)) {
    return new ProviderAbortError(`${label}: the call was aborted`, {
      cause: signal?.aborted && signal.reason instanceof Error ? signal.reason : undefined,
    });
  }

  const base = { ...siteOf(site) };
  const cause = sanitizedCause(err, redact);

  if (err instanceof APIConnectionTimeoutError) {
    return new ProviderError(`${label}: no answer from ${displayUrl(site.baseUrl)} in time`, {
      ...base, retryable: true, code: 'timeout', cause,
    });
  }
  if (err instanceof APIConnectionError) {
    const reason = networkReason(err);
    return new ProviderError(redact(`${label}: cannot reach ${displayUrl(site.baseUrl)}${reason ? ` (${reason})` : ''}`), {
      ...base, retryable: true, code: 'connection', cause,
    });
  }
  if (err instanceof APIError) {
    const text = upstreamText(err);
    if (err.status === undefined) {
      // An `error` event inside an SSE stream: the HTTP status was 200, the failure came later.
      const kindOf = `${String(err.type ?? '')} ${String(err.code ?? '')}`;
      return new ProviderError(redact(`${label}: upstream sent an error in the stream${text ? `: ${text}` : ''}`), {
        ...base, retryable: /server_error|overloaded|rate_limit/i.test(kindOf), code: 'stream-error', cause,
        upstream: upstreamDetail(JSON.stringify({ error: err.error ?? {} }), site.secrets),
      });
    }
    const status = err.status;
    const requestId = err.requestID ? ` (request id ${err.requestID})` : '';
    return new ProviderError(
      redact(`${label}: upstream answered ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() + `${text ? `: ${text}` : ''}${requestId}`),
      {
        ...base, status, retryable: isRetryableStatus(status, err.headers), retryAfterMs: retryAfterMs(err.headers), code: 'http', cause,
        upstream: upstreamDetail(JSON.stringify({ error: err.error ?? {} }), site.secrets),
      },
    );
  }
  if (err instanceof SyntaxError) {
    return new ProviderError(redact(`${label}: upstream sent malformed JSON (${err.message})`), {
      ...base, retryable: false, code: 'bad-response', cause,
    });
  }
  // undici: the socket closed while the body was being read ("terminated", "other side closed").
  if (err instanceof TypeError && (err.message === 'terminated' || err.message === 'fetch failed')) {
    const reason = networkReason(err);
    return new ProviderError(redact(`${label}: the connection to ${displayUrl(site.baseUrl)} broke${reason ? ` (${reason})` : ''}`), {
      ...base, retryable: true, code: 'connection', cause,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError(redact(`${label}: ${message}`), { ...base, retryable: false, code: 'unknown', cause });
}

function upstreamText(err: APIError): string {
  const body = err.error as { message?: unknown } | undefined;
  let text: string;
  if (typeof body?.message === 'string') text = body.message;
  else if (body !== undefined && body !== null) text = JSON.stringify(body);
  // Without a JSON body the SDK's message is "<status> <raw text>"; keep the text.
  else text = err.message.replace(/^\d{3}\s+/, '').replace(/^status code \(no body\)$/, '');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > MAX_UPSTREAM_TEXT ? `${text.slice(0, MAX_UPSTREAM_TEXT)}…` : text;
}

/**
 * A plain Error with the original's class name and redacted message: the SDK error holds the
 * response headers and body, and undici's cause may hold the request; neither is kept.
 */
function sanitizedCause(err: unknown, redact: (text: string) => string): Error {
  const original = err instanceof Error ? err : undefined;
  // An HTTP error's `code` is OpenAI's error code, already in its message; network codes are further down.
  const reason = err instanceof APIError && !(err instanceof APIConnectionError) ? undefined : networkReason(err);
  const message = redact((original?.message ?? String(err)) + (reason && original && !original.message.includes(reason) ? ` (${reason})` : ''));
  const cause = new Error(message);
  // Built fresh, so its stack shows only the redacted message.
  cause.name = original?.constructor?.name && original.constructor.name !== 'Object' ? original.constructor.name : 'Error';
  return cause;
}
