import type { ServerResponse } from 'node:http';

/**
 * A signal that aborts when the client goes away before the answer is complete. It listens on the
 * response's 'close' (the request's 'close' also fires once its body has been read, so it cannot
 * tell a disconnect from a normal request); `dispose()` removes the listener.
 */
export function clientAbortSignal(res: ServerResponse): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error('The client closed the connection.'));
  };
  if (res.destroyed) onClose();
  else res.on('close', onClose);
  return { signal: controller.signal, dispose: () => res.off('close', onClose) };
}
