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
/** The name of the client whose key the request carried, once checked and accepted. */
const CLIENT = Symbol('gateway.client');

type CheckedRequest = Pick<IncomingMessage, 'headers'> & { [REFUSED]?: boolean; [CHECKED]?: OpenAIError | null; [CLIENT]?: string };

/** The client label of a request when no client keys are configured. */
export const ANONYMOUS_CLIENT = 'anonymous';
/** ... and of a request without a good key when they are. */
export const UNAUTHENTICATED_CLIENT = 'unauthenticated';

/**
 * The one check of a client's key, made as the request arrives (before its body is read) and used
 * again by the guard. Keys are compared as SHA-256 digests (equal lengths) with `timingSafeEqual`,
 * against every configured key without stopping at a match, so the time taken says nothing about the
 * keys. The key sent is never echoed back.
 */
@Injectable()
export class ApiKeys {
  private readonly digests: Buffer[];
  private readonly names: string[];

  constructor(@Inject(GATEWAY_OPTIONS) options: ResolvedGatewayOptions) {
    this.digests = options.apiKeys.map((k) => digest(k.key));
    this.names = options.apiKeys.map((k) => k.name);
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
    const refusal = this.check(req as CheckedRequest);
    (req as CheckedRequest)[CHECKED] = refusal ?? null;
    return refusal;
  }

  /**
   * Who sent `req`, for metrics and logs: the name of its key (`team-a`, `key-1a2b3c4d`), never the
   * key; `unauthenticated` without a good key; `anonymous` when no keys are configured.
   */
  client(req: Pick<IncomingMessage, 'headers'>): string {
    if (!this.enabled) return ANONYMOUS_CLIENT;
    return this.refusal(req) ? UNAUTHENTICATED_CLIENT : ((req as CheckedRequest)[CLIENT] ?? UNAUTHENTICATED_CLIENT);
  }

  private check(req: CheckedRequest): OpenAIError | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) {
      return new OpenAIError(401, {
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        type: 'invalid_request_error',
        code: 'missing_api_key',
      });
    }
    const client = this.accepted(match[1]!);
    if (client === undefined) {
      return new OpenAIError(401, { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' });
    }
    req[CLIENT] = client;
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

  /** The name of the key, or undefined; every key is compared, whichever matches. */
  private accepted(key: string): string | undefined {
    const given = digest(key);
    let match = -1;
    for (let i = 0; i < this.digests.length; i++) if (timingSafeEqual(given, this.digests[i]!)) match = i;
    return match < 0 ? undefined : this.names[match];
  }
}
