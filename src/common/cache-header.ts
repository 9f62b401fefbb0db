import { cacheStatus } from '@hush/providers';
import type { HttpResponse } from './http.js';

/** The header that says whether an instance with `cache:` answered from its cache: `hit`, `partial` or `miss`. */
export const CACHE_HEADER = 'x-hush-cache';

/** Sets `x-hush-cache` from a library result; nothing when the instance has no cache. */
export function setCacheHeader(res: HttpResponse, result: unknown): void {
  const status = cacheStatus(result);
  if (!status) return;
  // Through Fastify's reply where there is one, so its own header handling sees it.
  if ('raw' in res && typeof (res as { header?: unknown }).header === 'function')
    (res as unknown as { header(name: string, value: string): void }).header(CACHE_HEADER, status);
  else ('raw' in res ? res.raw : res).setHeader(CACHE_HEADER, status);
}
