import type { ProviderKind } from './provider-kind.js';
import { publishError } from './diagnostics.js';

export interface ProviderErrorInit {
  instance: string;
  type: string;
  kind?: ProviderKind;
  status?: number;
  retryable: boolean;
  cause?: unknown;
  /** Milliseconds the upstream asked us to wait (Retry-After / retry-after-ms), when it said. */
  retryAfterMs?: number;
  /** Machine-readable reason: 'http', 'connection', 'timeout', 'idle-timeout', 'bad-response', 'dimensions', 'queue-full', ... */
  code?: string;
  /** What the upstream said about the failure in its own error body, when it said it. */
  upstream?: UpstreamErrorDetail;
}

/**
 * The upstream's own words about a failure, as its error body gives them: OpenAI's
 * `{ error: { code, param, type } }` (`context_length_exceeded`, `messages`, `invalid_request_error`),
 * Anthropic's `{ error: { type } }`, and the like. Clients rely on them (shorten a conversation on
 * `context_length_exceeded`), so they are kept as sent.
 */
export interface UpstreamErrorDetail {
  code?: string;
  param?: string;
  type?: string;
}

/**
 * Every failure of a call to a provider. `status` is the upstream HTTP status where there is one;
 * `retryable` says whether trying again (or a fallback) can help.
 */
export class ProviderError extends Error {
  override readonly name: string = 'ProviderError';
  readonly instance: string;
  readonly type: string;
  readonly kind?: ProviderKind;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly code?: string;
  /** The upstream's own `code`, `param` and `type`, when its error body had them. */
  readonly upstream?: UpstreamErrorDetail;

  constructor(message: string, init: ProviderErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.instance = init.instance;
    this.type = init.type;
    this.kind = init.kind;
    this.status = init.status;
    this.retryable = init.retryable;
    this.retryAfterMs = init.retryAfterMs;
    this.code = init.code;
    if (init.upstream && Object.keys(init.upstream).length > 0) this.upstream = init.upstream;
    publishError(this);
  }
}

/** What a cancelled call rejects with: `name === 'AbortError'`, like fetch's. */
export class ProviderAbortError extends Error {
  override readonly name = 'AbortError';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}
