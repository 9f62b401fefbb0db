import type { ServerResponse } from 'node:http';
import type { GatewayErrors } from '../common/gateway-errors.js';

/** Resolves once `res` can take more (true), or once it closed (false). */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Server-sent events exactly as OpenAI sends them: `data: <chunk JSON>\n\n` per chunk, written as it
 * arrives (no buffering), `data: [DONE]\n\n` last. A failure after the first byte is sent as a last
 * `data: {"error": {...}}` event, then the stream ends; a client that left ends the loop (and, through
 * the iterator's return, the upstream request).
 */
export async function writeEventStream(res: ServerResponse, events: AsyncIterable<unknown>, signal: AbortSignal, errors: GatewayErrors): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  try {
    for await (const event of events) {
      if (res.destroyed || signal.aborted) return;
      if (!res.write(`data: ${JSON.stringify(event)}\n\n`) && !(await drained(res))) return;
    }
    if (!res.destroyed) res.end('data: [DONE]\n\n');
  } catch (err) {
    if (signal.aborted || res.destroyed) return;
    const error = errors.answer(err);
    if (!error) {
      res.destroy();
      return;
    }
    res.end(`data: ${JSON.stringify({ error: error.body })}\n\n`);
  }
}
