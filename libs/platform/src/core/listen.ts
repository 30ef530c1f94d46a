import type { AddressInfo, Server } from 'node:net';

/**
 * Binds a server (net, tls, http or https) to `port` on `host` and answers the port it got (`0`
 * asks for an ephemeral one, as the tests do). A bind error (EADDRINUSE, EACCES) rejects instead
 * of being thrown later as an unhandled 'error' event. `backlog`: connections the kernel queues
 * before they are accepted (Node's default is 511; Linux caps it at net.core.somaxconn).
 */
export function listen(server: Server, port: number, host: string, backlog?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, ...(backlog !== undefined ? { backlog } : {}) }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
