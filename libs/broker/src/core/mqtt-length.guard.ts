/**
 * Reads the MQTT fixed header (MQTT 3.1.1 §2.2, 5.0 §2.1.1) of every packet as bytes arrive and
 * refuses a packet whose declared Remaining Length is over the limit *before* its body is
 * buffered: the parser behind it (mqtt-packet) would otherwise collect up to 256 MiB per packet,
 * and a CONNECT is buffered before the client is authenticated.
 *
 * The meter does not buffer: it walks the byte stream keeping only the header state and the
 * count of body bytes still to skip, so a chunk costs O(number of packet headers in it).
 */
export interface PacketLimits {
  /** Largest Remaining Length of any packet. */
  maxPacket: number;
  /** Largest Remaining Length of the CONNECT (read before authentication). */
  maxConnect: number;
}

export type MeterVerdict = { ok: true } | { ok: false; reason: 'packet-too-large' | 'connect-too-large' | 'malformed-length' | 'not-connect-first'; message: string };

const CONNECT = 1;

export class MqttLengthMeter {
  private skip = 0; // body bytes of the current packet still to pass
  private inHeader = false; // after the first byte, reading the varint
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private varintBytes = 0;
  private packets = 0;
  private failed?: MeterVerdict;

  constructor(private readonly limits: PacketLimits) {}

  feed(chunk: Uint8Array): MeterVerdict {
    if (this.failed) return this.failed;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        this.skip -= take;
        i += take;
        continue;
      }
      const b = chunk[i++];
      if (!this.inHeader) {
        this.type = b >> 4;
        if (this.packets === 0 && this.type !== CONNECT) return this.fail('not-connect-first', `the first packet must be CONNECT, not type ${this.type}`);
        this.inHeader = true;
        this.length = 0;
        this.multiplier = 1;
        this.varintBytes = 0;
        continue;
      }
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.varintBytes++;
      if (b & 0x80) {
        if (this.varintBytes >= 4) return this.fail('malformed-length', 'the remaining length takes more than 4 bytes');
        continue;
      }
      const limit = this.packets === 0 ? this.limits.maxConnect : this.limits.maxPacket;
      if (this.length > limit) {
        return this.fail(
          this.packets === 0 ? 'connect-too-large' : 'packet-too-large',
          `a ${this.packets === 0 ? 'CONNECT' : `type ${this.type}`} packet of ${this.length} bytes is over the ${limit}-byte limit`,
        );
      }
      this.inHeader = false;
      this.packets++;
      this.skip = this.length;
    }
    return { ok: true };
  }

  private fail(reason: Exclude<MeterVerdict, { ok: true }>['reason'], message: string): MeterVerdict {
    this.failed = { ok: false, reason, message };
    return this.failed;
  }
}
