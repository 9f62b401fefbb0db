import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { nodeRequest, type HttpRequest } from '../common/http.js';
import { ApiKeys } from './api-keys.js';
import { PUBLIC_ROUTE } from './public.decorator.js';

/**
 * Client authentication, on when gateway keys are configured: `Authorization: Bearer <key>` on every
 * route not marked @Public(), checked by `ApiKeys` (constant time; the key sent is never echoed back).
 * A refused request's body was never read: the same check was made as it arrived, before the body
 * parser (see `ApiKeys.checkArrival`), and is not made twice.
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
    const refusal = this.keys.refusal(nodeRequest(context.switchToHttp().getRequest<HttpRequest>()));
    if (refusal) throw refusal;
    return true;
  }
}
