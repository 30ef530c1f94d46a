import type { Writable } from 'node:stream';

/**
 * Coalesces what is written to a socket during one turn of the event loop into one write: the
 * first write of a turn corks the stream and `setImmediate` uncorks it. The broker sends each MQTT
 * packet with its own `write`; a burst of results (a grouped statement acknowledges many
 * PUBLISHes at once) became one TLS record and one `writev` system call per PUBACK, and on loopback
 * each of those also runs the receiver's TCP work. Corked, the packets of a turn go as one record
 * and one call. Order, back-pressure and write callbacks are the stream's own (cork only buffers).
 */
export function coalesceWritesPerTurn(stream: Writable): void {
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    if (!stream.destroyed) stream.uncork();
  };
  stream.write = function coalescedWrite(this: Writable, ...args: Parameters<Writable['write']>) {
    if (!corked && !stream.destroyed) {
      corked = true;
      stream.cork();
      setImmediate(uncork);
    }
    return write.apply(this, args);
  } as Writable['write'];
}
