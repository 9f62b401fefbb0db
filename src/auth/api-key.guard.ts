import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { OpenAIError } from '../common/openai-error.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from '../gateway-options.js';
import { PUBLIC_ROUTE } from './public.decorator.js';

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * Client authentication, on when gateway keys are configured: `Authorization: Bearer <key>` on every
 * route not marked @Public(). Keys are compared as SHA-256 digests (equal lengths) with
 * `timingSafeEqual`, against every configured key without stopping at a match, so the time taken
 * says nothing about the keys. The key sent is never echoed back.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly digests: Buffer[];

  constructor(
    @Inject(GATEWAY_OPTIONS) options: ResolvedGatewayOptions,
    private readonly reflector: Reflector,
  ) {
    this.digests = options.apiKeys.map(digest);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.digests.length === 0 || context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const header = context.switchToHttp().getRequest<IncomingMessage>().headers.authorization;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) {
      throw new OpenAIError(401, {
        message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        type: 'invalid_request_error',
        code: 'missing_api_key',
      });
    }
    if (!this.accepts(match[1]!)) {
      throw new OpenAIError(401, { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' });
    }
    return true;
  }

  private accepts(key: string): boolean {
    const given = digest(key);
    let ok = false;
    for (const expected of this.digests) ok = timingSafeEqual(given, expected) || ok;
    return ok;
  }
}
