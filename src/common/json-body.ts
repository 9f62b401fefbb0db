import { AsyncResource } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import { finished, type Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { isJsonContentType } from './http.js';
import { bodyParserError, OpenAIError } from './openai-error.js';

/**
 * The gateway's JSON body reader, a Fastify content-type parser for every type. It reads the body
 * the way Express's body-parser did before it, so that clients see the same answers:
 *
 * - only `application/json` (any parameters) is read; any other body, and a body the key check
 *   refused (see `ApiKeys`), is left unread and the route gets no body (`undefined`);
 * - `charset` must be a UTF (`utf-8` by default): else 415 `unsupported_encoding`;
 * - `Content-Encoding` gzip, deflate or br is inflated (zstd where Node has it): any other, 415;
 * - the body, inflated, may not exceed `limit` bytes: else 413 `request_too_large`, once the rest of
 *   the request has been read off (a `Content-Length` over the limit is refused before reading);
 * - strict JSON: an object or an array (an empty body is `{}`), else 400 `invalid_json`.
 *
 * Every failure is an `OpenAIError` (see `bodyParserError`), which Fastify hands to the exception filter.
 */
export function jsonBodyParser(options: { limit: number; skip(req: IncomingMessage): boolean }) {
  const { limit, skip } = options;
  return (request: { raw: IncomingMessage }, payload: Readable | undefined, done: (err: Error | null, body?: unknown) => void): void => {
    const req = request.raw;
    if (skip(req) || !isJsonContentType(req.headers['content-type']) || !announcesBody(req)) {
      done(null, undefined);
      return;
    }
    // The body's events come in the connection's async context: what follows the body (the route,
    // its logs, its library calls) runs in the request's again, where its id and trace context are.
    // (An AsyncResource of its own rather than AsyncResource.bind, which costs far more per call.)
    const scope = new AsyncResource('GatewayJsonBody');
    readJson(req, payload ?? req, limit, (err, body) => scope.runInAsyncScope(done, null, err, body));
  };
}

/** As body-parser (type-is) tells it: a chunked encoding, or any `Content-Length`, 0 included. */
function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && !Number.isNaN(Number(length)));
}

/** body-parser's error `type` → the gateway's answer. */
function failure(status: number, type: string): OpenAIError {
  const mapped = bodyParserError({ status, type })!;
  return new OpenAIError(mapped.status, mapped.body);
}

const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;
const UTF8 = new Set(['utf-8']);

function charsetOf(contentType: string | undefined): string {
  const match = contentType === undefined || !contentType.includes(';') ? null : CHARSET.exec(contentType);
  return (match?.[1] ?? match?.[2] ?? 'utf-8').toLowerCase();
}

function decompressor(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd': {
      const zstd = (zlib as unknown as { createZstdDecompress?: () => zlib.Gunzip }).createZstdDecompress;
      return zstd?.();
    }
    default:
      return undefined;
  }
}

/** A decoder for a UTF charset other than UTF-8, or undefined where Node has none. */
function textDecoder(charset: string): TextDecoder | undefined {
  try {
    return new TextDecoder(charset);
  } catch {
    return undefined;
  }
}

function readJson(req: IncomingMessage, stream: Readable, limit: number, done: (err: Error | null, body?: unknown) => void): void {
  const charset = charsetOf(req.headers['content-type']);
  // RFC 7159 (8.1): JSON is in a UTF; anything else is refused before the body is read.
  if (!charset.startsWith('utf-')) return done(failure(415, 'charset.unsupported'));

  const contentEncoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  let inflate: ReturnType<typeof decompressor>;
  let length: number | undefined;
  if (contentEncoding === 'identity') {
    const header = req.headers['content-length'];
    length = header === undefined ? undefined : Number.parseInt(header, 10);
    if (Number.isNaN(length)) length = undefined;
  } else {
    inflate = decompressor(contentEncoding);
    if (!inflate) return done(failure(415, 'encoding.unsupported'));
    stream.pipe(inflate);
  }
  const source: Readable = inflate ?? stream;

  const chunks: Buffer[] = [];
  let received = 0;
  let settled = false;

  const cleanup = () => {
    settled = true;
    source.off('data', onData);
    source.off('end', onEnd);
    source.off('error', onError);
    req.off('close', onClose);
    if (inflate) {
      stream.unpipe(inflate);
      inflate.on('error', () => undefined);
      inflate.destroy();
    }
  };
  // As body-parser: the rest of the request is read off before the refusal is sent, so that the
  // client, still sending, gets the answer rather than a reset connection.
  const refuseAfterReading = (err: Error) => {
    cleanup();
    if (stream.readableEnded || stream.destroyed) return done(err);
    finished(stream as NodeJS.ReadableStream, () => {
      done(err);
    });
    stream.resume();
  };
  const onData = (chunk: Buffer) => {
    if (settled) return;
    received += chunk.length;
    if (received > limit) refuseAfterReading(failure(413, 'entity.too.large'));
    else chunks.push(chunk);
  };
  const onError = (err: Error) => {
    if (settled) return;
    // A body that does not inflate: 400 with zlib's words (as before); a request cut short: nobody to answer.
    refuseAfterReading(inflate ? new OpenAIError(400, { message: err.message }) : failure(400, 'request.aborted'));
  };
  // The client went away before the whole body came (seen here too when inflating, where the
  // request's own end or error does not reach the inflater).
  const onClose = () => {
    if (!settled && !req.complete) {
      cleanup();
      done(failure(400, 'request.aborted'));
    }
  };
  const onEnd = () => {
    if (settled) return;
    cleanup();
    if (length !== undefined && received !== length) return done(failure(400, 'request.size.invalid'));
    let text: string;
    if (UTF8.has(charset)) {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      // A byte order mark is dropped, as body-parser's decoder drops it.
      const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
      text = bytes.toString('utf8', bom ? 3 : 0);
    } else {
      const decoder = textDecoder(charset);
      if (!decoder) return done(failure(415, 'charset.unsupported'));
      text = decoder.decode(Buffer.concat(chunks, received));
    }
    let body: unknown;
    try {
      body = parseStrictJson(text);
    } catch {
      return done(failure(400, 'entity.parse.failed'));
    }
    done(null, body);
  };

  if (length !== undefined && length > limit) return refuseAfterReading(failure(413, 'entity.too.large'));
  source.on('data', onData);
  source.on('end', onEnd);
  source.on('error', onError);
  req.on('close', onClose);
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
const isJsonSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** body-parser's strict mode: an empty body is `{}`; anything but an object or an array is refused. */
export function parseStrictJson(text: string): unknown {
  if (text.length === 0) return {};
  let i = 0;
  while (i < text.length && isJsonSpace(text[i]!)) i++;
  const first = text[i];
  if (first !== '{' && first !== '[') throw new SyntaxError('the body is not a JSON object or array');
  return JSON.parse(text) as unknown;
}
