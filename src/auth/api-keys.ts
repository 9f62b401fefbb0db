import { Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasBodyBytes } from '../common/http.js';
import { OpenAIError } from '../common/openai-error.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from '../gateway-options.js';

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/** Marks a request whose key was checked and refused before its body was read. */
const REFUSED = Symbol('gateway.keyRefused');
/** The outcome of the check of a request's key (an error, or null when it passed), so that it is made once. */
const CHECKED = Symbol('gateway.keyChecked');

type CheckedRequest = Pick<IncomingMessage, 'headers'> & { [REFUSED]?: boolean; [CHECKED]?: OpenAIError | null };

/**
 * The one check of a client's key, made as the request arrives (before its body is read) and used
 * again by the guard. Keys are compared as SHA-256 digests (equal lengths) with `timingSafeEqual`,
 * against every configured key without stopping at a match, so the time taken says nothing about the
 * keys. The key sent is never echoed back.
 */
@Injectable()
export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(@Inject(GATEWAY_OPTIONS) options: ResolvedGatewayOptions) {
    this.digests = options.apiKeys.map(digest);
  }

  /** Whether client keys are configured at all. */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Why `req` may not pass (a 401 in OpenAI's shape), or undefined when it may. Checked once per request. */
  refusal(req: Pick<IncomingMessage, 'headers'>): OpenAIError | undefined {
    if (!this.enabled) return undefined;
    const checked = (req as CheckedRequest)[CHECKED];
    if (checked !== undefined) return checked ?? undefined;
    const refusal = this.check(req);
    (req as CheckedRequest)[CHECKED] = refusal ?? null;
    return refusal;
  }

  private check(req: Pick<IncomingMessage, 'headers'>): OpenAIError | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) {
      return new OpenAIError(401, {
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        type: 'invalid_request_error',
        code: 'missing_api_key',
      });
    }
    if (!this.accepts(match[1]!)) {
      return new OpenAIError(401, { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' });
    }
    return undefined;
  }

  /**
   * The check made as a request arrives, before its body is read (the gateway's Fastify `onRequest`
   * hook): a request without a good key is marked so that the body parser leaves its body unread, and
   * its connection is closed after the answer (else Node would read the rest of the body to keep the
   * connection alive). It answers nothing itself: the guard does, on the routes that need a key, so
   * @Public() stays the one rule of which routes are open (they take no body).
   */
  checkArrival(req: IncomingMessage, res: Pick<ServerResponse, 'setHeader'>): void {
    if (!this.enabled || !this.refusal(req)) return;
    (req as CheckedRequest)[REFUSED] = true;
    if (hasBodyBytes(req)) res.setHeader('connection', 'close');
  }

  /** For the body parser: true for a request refused as it arrived. */
  static keyRefused(req: IncomingMessage): boolean {
    return (req as CheckedRequest)[REFUSED] === true;
  }

  private accepts(key: string): boolean {
    const given = digest(key);
    let ok = false;
    for (const expected of this.digests) ok = timingSafeEqual(given, expected) || ok;
    return ok;
  }
}
