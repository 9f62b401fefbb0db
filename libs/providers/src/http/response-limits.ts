import { ProviderError } from '../core/provider-error.js';
import { describeSite, siteOf } from '../core/call-site.js';
import { type HttpCallSite } from './http-errors.js';

/** The largest answer (a JSON body, or one event of a stream) an instance reads unless `maxResponseBytes` says otherwise. */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** The error of an answer that passed the instance's `maxResponseBytes`. */
export function responseTooLarge(site: HttpCallSite, maxBytes: number, what: 'answer' | 'event'): ProviderError {
  const subject = what === 'event' ? 'one event of the stream' : 'the answer';
  return new ProviderError(
    `${describeSite(site)}: ${subject} is larger than maxResponseBytes (${maxBytes} bytes); the rest was not read. ` +
      'Raise maxResponseBytes for this instance if answers this large are expected.',
    { ...siteOf(site), retryable: false, code: 'response-too-large' },
  );
}
