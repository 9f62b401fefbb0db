import { ProviderError } from '../core/provider-error.js';
import { describeSite, siteOf } from '../core/call-site.js';
import { type HttpCallSite } from './http-errors.js';

/** The largest answer (a JSON body, or one event of a stream) an instance reads unless `maxResponseBytes` says otherwise. */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/** The error of an answer that passed the instance's `maxResponseBytes`. */
export function responseTooLarge(site: HttpCallSite, maxBytes: number, what: 'answer' | 'event'): ProviderError {
  const subject = what === 'event' ? 'one event of the stream' : 'the answer';
  return new ProviderError(
    `${describeSite(site)}: ${subject} is larger than maxResponseBytes (${maxBytes} bytes); the rest was not read. ` +
      'Raise maxResponseBytes for this instance if answers this large are expected.',
    { ...siteOf(site), retryable: false, code: 'response-too-large' },
  );
}

/**
 * Reads a body as text, refusing it (and cancelling the rest of the download) once it passes
 * `maxBytes`, rather than buffering whatever the upstream sends.
 */
export async function readBoundedText(response: Response, maxBytes: number, tooLarge: () => Error): Promise<string> {
  const length = Number(response.headers.get('content-length'));
  if (Number.isFinite(length) && length > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw tooLarge();
      parts.push(decoder.decode(value, { stream: true }));
    }
    parts.push(decoder.decode());
    return parts.join('');
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/**
 * The body, errored with `tooLarge()` once more than `maxBytes` have passed (all of it), or once one
 * server-sent event (the bytes between two blank lines) is longer than `maxBytes` (`perEvent`).
 */
export function boundedBody(body: ReadableStream<Uint8Array>, maxBytes: number, perEvent: boolean, tooLarge: () => Error): ReadableStream<Uint8Array> {
  // Bytes of the current event (or of the whole body), and of the current line without its CRs.
  let count = 0;
  let line = 0;
  let endedWithCr = false;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (perEvent) {
          // From line feed to line feed: an empty line ends the event.
          let from = 0;
          for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, lf + 1)) {
            const cr = lf > from ? chunk[lf - 1] === CR : lf === 0 && endedWithCr;
            line += lf - from - (cr ? 1 : 0);
            count = line === 0 ? 0 : count + lf + 1 - from;
            line = 0;
            from = lf + 1;
          }
          line += chunk.byteLength - from;
          count += chunk.byteLength - from;
          endedWithCr = chunk.byteLength > 0 && chunk[chunk.byteLength - 1] === CR;
        } else {
          count += chunk.byteLength;
        }
        if (count > maxBytes) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * A fetch whose answers can be no larger than `maxBytes`: a JSON body as a whole, a stream event by
 * event (the openai SDK reads what this returns, so its buffers stay bounded too). The refusal comes
 * from reading the body, not from fetch itself, which the SDK would take for a connection failure.
 */
export function boundedFetch(inner: typeof fetch, maxBytes: number, tooLarge: (what: 'answer' | 'event') => Error): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    if (!response.body) return response;
    const stream = (response.headers.get('content-type') ?? '').includes('text/event-stream');
    const length = Number(response.headers.get('content-length'));
    let body: ReadableStream<Uint8Array>;
    if (!stream && Number.isFinite(length) && length > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      body = new ReadableStream({ start: (controller) => controller.error(tooLarge('answer')) });
    } else {
      body = boundedBody(response.body, maxBytes, stream, () => tooLarge(stream ? 'event' : 'answer'));
    }
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
