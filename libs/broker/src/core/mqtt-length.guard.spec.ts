import * as fc from 'fast-check';
import mqtt from 'mqtt-packet';
import { MqttLengthMeter } from './mqtt-length.guard';

const limits = { maxPacket: 70_000, maxConnect: 16_384 };
const connect = () => mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'fg-0123456789abcdef', keepalive: 30 } as never);
const publish = (size: number) => mqtt.generate({ cmd: 'publish', topic: 'fleet/v1/devices/fg-0123456789abcdef/evidence', payload: Buffer.alloc(size, 0x61), qos: 1, messageId: 1, retain: false, dup: false } as never);

/** Splits bytes at arbitrary points, as TCP does. */
function feedSplit(meter: MqttLengthMeter, bytes: Buffer, cuts: number[]) {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let last = 0;
  let v = meter.feed(new Uint8Array(0));
  for (const p of [...points, bytes.length]) {
    v = meter.feed(bytes.subarray(last, p));
    last = p;
    if (!v.ok) return v;
  }
  return v;
}

describe('MqttLengthMeter', () => {
  it('passes a CONNECT and publishes up to the limit, however TCP splits them (packets made by mqtt-packet)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 69_000 }), { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 20 }), (sizes, cuts) => {
        const bytes = Buffer.concat([connect(), ...sizes.map(publish)]);
        expect(feedSplit(new MqttLengthMeter(limits), bytes, cuts)).toEqual({ ok: true });
      }),
      { numRuns: 50 },
    );
  });

  it('refuses a 200 MB publish from its header alone (no body sent)', () => {
    const m = new MqttLengthMeter(limits);
    expect(m.feed(connect())).toEqual({ ok: true });
    const header = publish(0).subarray(0, 1);
    // remaining length 200,000,000 as a varint
    const v = m.feed(Buffer.concat([header, Buffer.from([0x80, 0x84, 0xaf, 0x5f])]));
    expect(v).toMatchObject({ ok: false, reason: 'packet-too-large' });
  });

  it('refuses a 200 MB CONNECT before authentication, and a first packet that is not CONNECT', () => {
    expect(new MqttLengthMeter(limits).feed(Buffer.from([0x10, 0x80, 0x84, 0xaf, 0x5f]))).toMatchObject({ ok: false, reason: 'connect-too-large' });
    expect(new MqttLengthMeter(limits).feed(publish(10))).toMatchObject({ ok: false, reason: 'not-connect-first' });
  });

  it('refuses a remaining length longer than 4 bytes', () => {
    expect(new MqttLengthMeter(limits).feed(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]))).toMatchObject({ ok: false, reason: 'malformed-length' });
  });

  it('never throws on arbitrary bytes, and stays refused once refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const m = new MqttLengthMeter({ maxPacket: 50, maxConnect: 20 });
        const v = m.feed(bytes);
        if (!v.ok) expect(m.feed(Buffer.from([0x10, 0]))).toEqual(v);
      }),
    );
  });
});
