import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ProvidersConfigError, ProvidersRegistry } from '@hush/providers';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from '../gateway-options.js';

/**
 * SIGHUP reloads the providers config (as a daemon's configuration is reloaded): the next calls use
 * the new one; a config with problems is refused and the running one stays. The outcome is logged
 * (the library logs what changed and publishes it on `hush.providers:reload`).
 */
@Injectable()
export class ConfigReloadOnSignal implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly #logger = new Logger('Gateway');
  readonly #onSignal = () => void this.reload();

  constructor(
    private readonly registry: ProvidersRegistry,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.reloadOnSighup) process.on('SIGHUP', this.#onSignal);
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.#onSignal);
  }

  async reload(): Promise<void> {
    this.#logger.log('SIGHUP: reloading the providers config.');
    try {
      await this.registry.reload();
    } catch (err) {
      // The library has logged the config's problems; anything else is said here.
      if (!(err instanceof ProvidersConfigError))
        this.#logger.error(`Reloading the providers config failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
