import { STATUS_CODES } from 'node:http';
import { isAbortError, ProviderError } from '../core/provider-error.js';

/**
 * A failure as it may be shown to whoever can reach a public port: which kind of failure it was, in
 * words, but never where the upstream lives. A `ProviderError`'s message names the upstream's URL
 * (`cannot reach http://10.0.3.7:8000/v1 (ECONNREFUSED: connect ECONNREFUSED 10.0.3.7:8000)`); that
 * detail belongs in the server log.
 */
export interface FailureDescription {
  /**
   * The kind of failure: the `ProviderError.code` (`connection`, `timeout`, `idle-timeout`,
   * `rate-limited`, `queue-full`, `closed`, `bad-response`, ...), `http <status>` for an upstream
   * status, or `error` for anything that is not a ProviderError.
   */
  failure: string;
  /** What happened, without URL, host or port: `cannot reach the upstream (ECONNREFUSED)`. */
  summary: string;
  /** `llm "chat" (openai-compatible)` for a ProviderError, else undefined. */
  label?: string;
}

/**
 * Upstream statuses that are about the request itself: their text is the upstream talking about what
 * the client sent, so it may be shown (and a gateway passes them on). Other statuses (401/403: the
 * gateway's own key; 5xx: the upstream's own trouble) keep their text in the log.
 */
export const CLIENT_ERROR_STATUSES: ReadonlySet<number> = new Set([400, 404, 413, 422]);

/** A system error code (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, ...): says what, never where. */
const SYSTEM_CODE = /^(E[A-Z0-9]{3,}|UND_ERR_[A-Z_]+)$/;
/** The library puts the reason in parentheses: `(ECONNREFUSED: connect ECONNREFUSED 10.0.3.7:8000)`. */
const REASON_CODE = /\((E[A-Z0-9]{3,}|UND_ERR_[A-Z_]+)\b/;

/**
 * The public description of a failure. It is built from the error's structured fields (`code`,
 * `status`, `instance`) and from a few known-safe pieces of the message (a system error code, a
 * configured timeout), never by trimming the message: whatever the message says about the upstream's
 * address stays out.
 */
export function describeFailure(err: unknown): FailureDescription {
  if (!(err instanceof ProviderError)) {
    if (isAbortError(err)) return { failure: 'aborted', summary: 'the check was aborted' };
    const code = systemCode(err);
    if (code) return { failure: 'connection', summary: `cannot reach the upstream (${code})` };
    return { failure: 'error', summary: 'the check failed' };
  }
  const label = `${err.kind ?? 'instance'} "${err.instance}" (${err.type})`;
  const message = err.message;
  const number = (name: string) => new RegExp(`\\b${name} (\\d+)`).exec(message)?.[1];
  switch (err.code) {
    case 'http':
      if (err.status !== undefined) return { failure: `http ${err.status}`, summary: httpSummary(err.status, message), label };
      break;
    case 'connection': {
      const code = REASON_CODE.exec(message)?.[1] ?? systemCode(err);
      const what = /\bbroke\b/.test(message) ? 'the connection to the upstream broke' : 'cannot reach the upstream';
      return { failure: 'connection', summary: code ? `${what} (${code})` : what, label };
    }
    case 'timeout': {
      const ms = number('timeoutMs');
      return { failure: 'timeout', summary: ms ? `no answer within timeoutMs ${ms} ms` : 'no answer in time', label };
    }
    case 'attempt-timeout': {
      const ms = number('attemptTimeoutMs');
      return { failure: 'attempt-timeout', summary: ms ? `an attempt took longer than attemptTimeoutMs ${ms} ms` : 'an attempt took too long', label };
    }
    case 'idle-timeout': {
      const ms = number('idleTimeoutMs');
      return { failure: 'idle-timeout', summary: ms ? `the stream sent nothing for idleTimeoutMs ${ms} ms` : 'the stream stalled', label };
    }
    case 'rate-limited':
      return { failure: 'rate-limited', summary: 'the rpm/tpm budget has no room', label };
    case 'queue-full':
      return { failure: 'queue-full', summary: 'too many calls in flight (maxConcurrency) and waiting (maxQueue)', label };
    case 'closed':
      return { failure: 'closed', summary: 'the instance is shut down', label };
    case 'bad-response':
      return { failure: 'bad-response', summary: 'the upstream sent an answer that does not follow its API', label };
    case 'response-too-large':
      return { failure: 'response-too-large', summary: 'the upstream sent more than maxResponseBytes', label };
    case 'dimensions':
      return { failure: 'dimensions', summary: 'the upstream sent vectors of another length than the configured dimensions', label };
    case 'stream-error':
      return { failure: 'stream-error', summary: 'the upstream sent an error in the stream', label };
    case 'bad-input':
      // The library refusing what the client sent: its words are about the request.
      return { failure: 'bad-input', summary: withoutAddresses(afterLabel(message, label)), label };
  }
  if (err.status !== undefined) return { failure: `http ${err.status}`, summary: httpSummary(err.status, message), label };
  return { failure: err.code ?? 'error', summary: 'the call failed', label };
}

/** `the upstream answered 400 Bad Request`, plus the upstream's own words for a client error. */
function httpSummary(status: number, message: string): string {
  const head = `the upstream answered ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''}`;
  if (!CLIENT_ERROR_STATUSES.has(status)) return head;
  const text = upstreamText(message, status);
  return text ? `${head}: ${text}` : head;
}

/** The upstream's text in a library message: after `upstream answered <status> <reason>: `, without the request id. */
function upstreamText(message: string, status: number): string | undefined {
  const at = message.indexOf(`upstream answered ${status}`);
  if (at < 0) return undefined;
  const colon = message.indexOf(': ', at);
  if (colon < 0) return undefined;
  const text = message
    .slice(colon + 2)
    .replace(/\s*\(request id [^)]*\)\s*$/, '')
    .trim();
  return text ? withoutAddresses(text) : undefined;
}

function afterLabel(message: string, label: string): string {
  return message.startsWith(`${label}: `) ? message.slice(label.length + 2) : message;
}

/** URLs and IP addresses (with their ports) out of a text that is otherwise fine to show. */
export function withoutAddresses(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()]*/gi, '[url]')
    .replace(/\[[0-9a-f:]{2,}\](?::\d+)?/gi, '[address]')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '[address]');
}

/** The first system error code along an error's cause chain. */
function systemCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && SYSTEM_CODE.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
