/** One server-sent event: its `event:` name (absent for plain `data:` events) and its data lines joined. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** One HTTP request, as every provider type sends it: one attempt, cancelled through `signal`. */
export interface TransportRequest {
  /** The absolute URL. */
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/**
 * An answer whose body has not been read yet. Exactly one of `text`, `events` or `discard` is used;
 * each frees the connection when it is done (or fails, or is stopped early).
 */
export interface TransportResponse {
  readonly status: number;
  /** A response header by its name (any case); several values are joined with ", ". */
  header(name: string): string | undefined;
  /** The whole body as text; rejects with `tooLarge()` (and stops the download) past `maxBytes`. */
  text(maxBytes: number, tooLarge: () => Error): Promise<string>;
  /** The body read as server-sent events as they arrive; one event longer than `maxEventBytes` fails with `tooLarge()`. */
  events(maxEventBytes: number, tooLarge: () => Error): AsyncGenerator<SseEvent>;
  /** Drops the body unread. */
  discard(): void;
}

/**
 * How provider types reach their services: a pool of keep-alive connections per origin, shared by
 * every instance of a registry and closed with it.
 */
export interface HttpTransport {
  request(request: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}
