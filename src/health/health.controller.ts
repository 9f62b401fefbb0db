import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { ProvidersHealthIndicator } from '@hush/providers/health';
import { Public } from '../auth/public.decorator.js';

/** Open even when gateway keys are set: orchestrators poll it without credentials. */
@Public()
@ApiTags('Health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly providers: ProvidersHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /**
   * Readiness: one entry per configured instance (`llm:chat`, `embedding:docs`, ...) with its kind,
   * type and model. Spends nothing: without a probe configured, an entry reports that the instance was
   * built from the config; 503 when any entry is down.
   */
  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: one entry per configured instance' })
  ready(): Promise<HealthCheckResult> {
    return this.health.check(this.providers.indicators());
  }
}
