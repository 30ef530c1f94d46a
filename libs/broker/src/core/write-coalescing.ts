import type { Socket } from 'node:net';
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

/**
 * A device connection as the broker writes to it: the packets of a turn as one write
 * (coalesceWritesPerTurn), and no Nagle delay. With Nagle a result written a few ms after its
 * evidence's PUBACK waited until the device acknowledged the PUBACK's segment, which the device's
 * TCP delays by up to 40 ms on Linux (it has nothing to send back): bench:attest's p50 at 200
 * appraisals/s was 45 ms with it, 5 ms without. Coalesced, the broker never writes tiny
 * segments Nagle would have merged.
 */
export function writePromptly(socket: Socket): void {
  socket.setNoDelay(true);
  coalesceWritesPerTurn(socket);
}
