import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { nodeRequest, type HttpRequest } from '../common/http.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from '../gateway-options.js';
import { ApiKeys } from './api-keys.js';
import { METRICS_ROUTE, PUBLIC_ROUTE } from './public.decorator.js';

/**
 * Client authentication, on when gateway keys are configured: `Authorization: Bearer <key>` on every
 * route not marked @Public() (nor, with `metricsPublic`, @MetricsRoute()), checked by `ApiKeys`
 * (constant time; the key sent is never echoed back).
 * A refused request's body was never read: the same check was made as it arrived, before the body
 * parser (see `ApiKeys.checkArrival`), and is not made twice.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeys,
    private readonly reflector: Reflector,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.keys.enabled || context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    if (this.options.metricsPublic && this.reflector.getAllAndOverride<boolean>(METRICS_ROUTE, targets)) return true;
    const refusal = this.keys.refusal(nodeRequest(context.switchToHttp().getRequest<HttpRequest>()));
    if (refusal) throw refusal;
    return true;
  }
}
