import { Controller, Get, Logger, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { MetricsRoute } from '../auth/public.decorator.js';
import { nodeResponse, type HttpResponse } from '../common/http.js';
import { OpenAIError } from '../common/openai-error.js';
import { GatewayObservability } from '../observability/observability.js';

/** Prometheus' text exposition format (what its exporter serves; `version=0.0.4`). */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * `GET /metrics`: every metric of the gateway's meter provider, read through OpenTelemetry's
 * Prometheus exporter (as a metric reader, without a server of its own): the library's GenAI and
 * `hush.client.*` metrics, `http.server.request.duration`, and the `hush.gateway.client.*` usage per client.
 * Needs a client key when keys are set, unless `metricsPublic` (see `MetricsRoute`).
 */
@ApiTags('Operations')
@ApiBearerAuth()
@Controller()
export class MetricsController {
  private readonly logger = new Logger('Metrics');

  constructor(private readonly observability: GatewayObservability) {}

  @Get('metrics')
  @MetricsRoute()
  @ApiOperation({ summary: 'Metrics in Prometheus text format (open without a key only with GATEWAY_METRICS_PUBLIC=true)' })
  @ApiOkResponse({ description: 'text/plain; version=0.0.4' })
  async metrics(@Res() reply: HttpResponse): Promise<void> {
    const telemetry = this.observability.telemetry;
    if (!telemetry) throw new OpenAIError(404, { message: 'Metrics are not collected by this application.', code: 'unknown_url' });
    const { text, errors } = await telemetry.render();
    if (errors.length > 0) this.logger.warn(`Metrics collected with ${errors.length} error(s): ${errors.map(String).join('; ')}`);
    const res = nodeResponse(reply);
    res.statusCode = 200;
    res.setHeader('content-type', CONTENT_TYPE);
    res.setHeader('cache-control', 'no-store');
    res.end(text);
  }
}
