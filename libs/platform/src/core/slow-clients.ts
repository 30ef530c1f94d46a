import type * as http from 'node:http';
import type * as https from 'node:https';

/**
 * Time limits of the HTTP listeners against slow clients (slowloris, 1 byte/s bodies, sockets that
 * never start TLS). Node's own limits do the headers and the whole request (checked every second
 * instead of Node's 30 s); a body must also keep a minimum rate, measured over 10 s windows, which
 * Node has no setting for. A window in which the service itself is not reading (the consumer
 * paused the request: backpressure) does not count against the client.
 */
export interface SlowClientLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Bytes per second a request body must average over each window; 0: no rate check. */
  minBodyBytesPerSecond: number;
  /** TLS listeners: a connection must finish its handshake within this. */
  handshakeTimeoutMs?: number;
}

export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const BODY_RATE_WINDOW_MS = 10_000;

/** Options for `http.createServer` / `https.createServer`. */
export function slowClientServerOptions(limits: SlowClientLimits): http.ServerOptions & { handshakeTimeout?: number } {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: 1_000,
    ...(limits.handshakeTimeoutMs ? { handshakeTimeout: limits.handshakeTimeoutMs } : {}),
  };
}

/** Closes the connection of a request whose body arrives slower than the minimum rate. */
export function guardSlowBodies(server: http.Server | https.Server, limits: SlowClientLimits, onSlow: (req: http.IncomingMessage) => void = () => {}): void {
  if (!limits.minBodyBytesPerSecond) return;
  const minPerWindow = (limits.minBodyBytesPerSecond * BODY_RATE_WINDOW_MS) / 1000;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || req.complete) return;
    const socket = req.socket;
    let last = socket.bytesRead;
    const timer = setInterval(() => {
      if (req.complete || socket.destroyed) return stop();
      const now = socket.bytesRead;
      const paused = req.isPaused() || req.readableLength > 0 || socket.isPaused();
      if (!paused && now - last < minPerWindow) {
        stop();
        onSlow(req);
        socket.destroy();
        return;
      }
      last = now;
    }, BODY_RATE_WINDOW_MS);
    timer.unref();
    const stop = () => clearInterval(timer);
    req.once('end', stop);
    req.once('close', stop);
    res.once('close', stop);
  });
}
