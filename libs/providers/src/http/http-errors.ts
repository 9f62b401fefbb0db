import { STATUS_CODES } from 'node:http';
export type { HttpCallSite } from '../core/call-site.js';
import { ProviderError, type UpstreamErrorDetail } from '../core/provider-error.js';
import { describeSite, siteOf, type HttpCallSite } from '../core/call-site.js';
import { redactSecrets } from '../core/redact.js';

// Upstream bodies can be whole HTML pages; a message only needs the start.
export const MAX_UPSTREAM_TEXT = 500;

/** A `bad-response` error: the upstream answered 2xx with something that is not what its API promises. */
export function badResponse(site: HttpCallSite, what: string): ProviderError {
  return new ProviderError(redactSecrets(`${describeSite(site)}: bad response from upstream: ${what}`, site.secrets), {
    ...siteOf(site),
    retryable: false,
    code: 'bad-response',
  });
}

/**
 * An HTTP error status as a ProviderError: the status, its retryability, Retry-After, the upstream's
 * words (from `body`, the answer's text) and its own code, param and type where the body has them.
 */
export function httpStatusError(site: HttpCallSite, status: number, headers: HeaderSource | undefined, body: string, cause?: Error): ProviderError {
  const text = upstreamMessage(body);
  const requestId = headerOf(headers, 'x-request-id');
  const answered = `upstream answered ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() + (text ? `: ${text}` : '');
  return new ProviderError(redactSecrets(`${describeSite(site)}: ${answered}${requestId ? ` (request id ${requestId})` : ''}`, site.secrets), {
    ...siteOf(site),
    status,
    retryable: isRetryableStatus(status, headers),
    retryAfterMs: retryAfterMs(headers),
    code: 'http',
    // The upstream's own answer, as the cause: redacted, with no headers or body kept.
    cause: cause ?? Object.assign(new Error(redactSecrets(answered, site.secrets)), { name: 'UpstreamHttpError' }),
    upstream: upstreamDetail(body, site.secrets),
  });
}

/**
 * The upstream's own `code`, `param` and `type` from an error body, as the services shape it:
 * OpenAI's `{error: {code, param, type}}` (also vLLM, Azure, Mistral and most OpenAI-compatible
 * servers), Anthropic's `{type: 'error', error: {type}}`, Google's `{error: {status}}` (its status
 * word, e.g. INVALID_ARGUMENT, stands as the code), a list of such. Only short strings are kept.
 */
export function upstreamDetail(body: string, secrets: readonly string[] = []): UpstreamErrorDetail | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (Array.isArray(json)) json = json[0];
  if (!isObject(json)) return undefined;
  const error = isObject(json.error) ? json.error : json;
  const word = (value: unknown) => (typeof value === 'string' && value.length > 0 && value.length <= 200 ? redactSecrets(value, secrets) : undefined);
  const detail: UpstreamErrorDetail = {};
  const code = word(error.code) ?? word(error.status);
  const param = word(error.param);
  const type = word(error.type);
  if (code) detail.code = code;
  if (param) detail.param = param;
  // Anthropic's envelope says `type: 'error'` around the real type.
  if (type && type !== 'error') detail.type = type;
  return Object.keys(detail).length > 0 ? detail : undefined;
}

/** A failure to reach the upstream (refused, reset, DNS, TLS): always worth another try. */
export function connectionError(site: HttpCallSite, err: unknown, what = 'cannot reach'): ProviderError {
  const reason = networkReason(err);
  return new ProviderError(redactSecrets(`${describeSite(site)}: ${what} ${displayUrl(site.baseUrl)}${reason ? ` (${reason})` : ''}`, site.secrets), {
    ...siteOf(site),
    retryable: true,
    code: 'connection',
  });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short description of an unexpected value, for bad-response messages (never the value itself). */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `text (${value.length} chars)`;
  return Array.isArray(value) ? `an array of ${value.length}` : typeof value;
}

/** Response headers: fetch's `Headers`, or a transport response. */
export type HeaderSource = { get(name: string): string | null } | { header(name: string): string | undefined };

function headerOf(headers: HeaderSource | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  return 'header' in headers ? headers.header(name) : (headers.get(name) ?? undefined);
}

/** The openai SDK's rule, used for every service: `x-should-retry` wins, else 408, 409, 429 and 5xx. */
export function isRetryableStatus(status: number, headers: HeaderSource | undefined): boolean {
  const hint = headerOf(headers, 'x-should-retry');
  if (hint === 'true') return true;
  if (hint === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** `retry-after-ms` (OpenAI's, milliseconds) first, then `retry-after` (seconds or an HTTP date). */
export function retryAfterMs(headers: HeaderSource | undefined, now = Date.now()): number | undefined {
  const ms = headerOf(headers, 'retry-after-ms');
  if (ms != null && ms.trim() !== '') {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return n;
  }
  const value = headerOf(headers, 'retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The first system error code along the error and its cause chain (ECONNREFUSED, ENOTFOUND,
 * UND_ERR_SOCKET, ...), else the innermost cause's message (undici's "bad port", ...).
 */
export function networkReason(err: unknown): string | undefined {
  let current: unknown = err;
  let innermost: string | undefined;
  for (let depth = 0; depth < 8 && current && typeof current === 'object'; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && code) return typeof message === 'string' && message ? `${code}: ${message}` : code;
    if (typeof message === 'string' && message && current !== err) innermost = message;
    current = (current as { cause?: unknown }).cause;
  }
  return innermost;
}

/** The text of an upstream error body: its message where the JSON has one, else the text, clipped. */
export function upstreamMessage(body: string): string {
  try {
    let json: unknown = JSON.parse(body);
    // Google answers a list around the error.
    if (Array.isArray(json) && json.length > 0) json = json[0];
    const message = findMessage(json);
    if (message) return clip(message);
  } catch {
    // Not JSON: the text itself.
  }
  return clip(body);
}

// Services nest their message differently: {error:{message}}, {message}, {detail}, {error:"..."}.
function findMessage(json: unknown): string | undefined {
  if (typeof json === 'string') return json;
  if (!isObject(json)) return undefined;
  for (const key of ['message', 'detail', 'error', 'errors']) {
    const value = json[key];
    if (typeof value === 'string' && value) return value;
    if (isObject(value)) {
      const inner = findMessage(value);
      if (inner) return inner;
    }
    if (Array.isArray(value) && value.length) {
      const inner = findMessage(value[0]);
      if (inner) return inner;
    }
  }
  return undefined;
}

export function clip(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_UPSTREAM_TEXT ? `${flat.slice(0, MAX_UPSTREAM_TEXT)}…` : flat;
}

/** The API root without credentials, query or fragment. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`;
  } catch {
    return '(invalid URL)';
  }
}
