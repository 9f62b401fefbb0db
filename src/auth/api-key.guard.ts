import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { ApiKeys } from './api-keys.js';
import { PUBLIC_ROUTE } from './public.decorator.js';

/**
 * Client authentication, on when gateway keys are configured: `Authorization: Bearer <key>` on every
 * route not marked @Public(), checked by `ApiKeys` (constant time; the key sent is never echoed back).
 * A refused request's body was never read: the middleware before the body parser made the same check
 * (see `ApiKeys.middleware`).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeys,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.keys.enabled || context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const refusal = this.keys.refusal(context.switchToHttp().getRequest<IncomingMessage>());
    if (refusal) throw refusal;
    return true;
  }
}
