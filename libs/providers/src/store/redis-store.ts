import type { LoggerService } from '@nestjs/common';
import type { RedisStoreConfig } from '../config/store-config.js';
import type { SharedStore } from './shared-store.js';

/** Placeholder until the Redis store lands: refuses, saying so. */
export class RedisStore {
  static async connect(_config: RedisStoreConfig, _logger: LoggerService): Promise<SharedStore> {
    throw new Error('store type redis is not available yet');
  }
}
