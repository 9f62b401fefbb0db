import type { NestApplicationOptions } from '@nestjs/common';
import { createLoggers, resolveLogFormat, type GatewayLoggers, type GatewayLogOptions } from './logging.js';
import { RequestContext } from './request-context.js';
import { RequestObserver } from './request-observer.js';
import { GatewayTelemetry, type GatewayTelemetryOptions } from './telemetry.js';

/**
 * Everything the gateway observes with, made before Nest builds the app (the SDK must be registered
 * before anything asks for a tracer or a meter, and Nest takes its logger at creation) and stopped
 * with it: the request context, the OpenTelemetry SDK, the loggers, the request observer.
 */
export class GatewayObservability {
  readonly requests: RequestContext;
  readonly observer: RequestObserver;
  #stopped?: Promise<void>;

  private constructor(
    requests: RequestContext,
    /** Undefined when the app was built without `createApp` (no SDK, no /metrics). */
    readonly telemetry: GatewayTelemetry | undefined,
    readonly loggers: GatewayLoggers | undefined,
  ) {
    this.requests = requests;
    this.observer = new RequestObserver(requests, telemetry, loggers?.access);
    this.observer.start();
  }

  static async start(
    options: { log?: GatewayLogOptions; telemetry?: GatewayTelemetryOptions },
    nestLogger: NestApplicationOptions['logger'],
    env: Readonly<Record<string, string | undefined>> = process.env,
  ): Promise<GatewayObservability> {
    const format = resolveLogFormat(options.log?.format, env);
    // First: the request context rides on the SDK's context manager.
    const telemetry = await GatewayTelemetry.start(options.telemetry);
    const requests = new RequestContext();
    const loggers = createLoggers(options.log ?? {}, format, nestLogger, requests);
    return new GatewayObservability(requests, telemetry, loggers);
  }

  /** Request ids and the call-event attribution only: for `AppModule.forRoot` used without `createApp`. */
  static bare(): GatewayObservability {
    return new GatewayObservability(new RequestContext(), undefined, undefined);
  }

  /** Stops listening and shuts the SDK down (flushing spans); once, however often it is called. */
  shutdown(): Promise<void> {
    this.#stopped ??= (async () => {
      this.observer.stop();
      await this.telemetry?.shutdown();
      this.loggers?.access?.flush();
    })();
    return this.#stopped;
  }
}
