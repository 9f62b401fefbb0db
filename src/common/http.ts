import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What a handler, guard or filter is handed as the response: Fastify's reply (the gateway's adapter),
 * or a plain Node response. The gateway writes its answers on the Node response itself (one
 * `end()`, no serialization hooks), so it takes that from either.
 */
export type HttpResponse = ServerResponse | { readonly raw: ServerResponse };
/** The request, likewise: Fastify's request or a plain Node one. */
export type HttpRequest = IncomingMessage | { readonly raw: IncomingMessage };

export function nodeResponse(res: HttpResponse): ServerResponse {
  return 'raw' in res ? res.raw : res;
}

export function nodeRequest(req: HttpRequest): IncomingMessage {
  return 'raw' in req ? req.raw : req;
}

/** Whether bytes of a body are (still) to come: a chunked encoding, or a length above 0. */
export function hasBodyBytes(req: Pick<IncomingMessage, 'headers'>): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

/** `application/json`, with any parameters (case and spaces ignored): the only body the gateway reads. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  if (header === 'application/json') return true;
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase() === 'application/json';
}
