import { LocalEventBus, type EventBus } from './event-bus';
import { FLEET_EVENT_TYPES, isOperatorEvent, type FleetEvents } from './fleet-event';

const result = (deviceId: string, status: FleetEvents['attestation.result']['data']['status'] = 'affirming'): FleetEvents['attestation.result'] => ({
  deviceId,
  audience: ['org-m', null],
  data: { status, reasons: [], resultId: `r-${deviceId}`, at: '2025-01-01T00:00:00.000Z' },
});

/**
 * Checked by `npm run typecheck`, never run: each line marked @ts-expect-error must fail to
 * compile, or the typecheck fails (an unused @ts-expect-error is an error).
 */
export function compileTimeChecks(typed: EventBus<FleetEvents>): void {
  // @ts-expect-error: not an event of the map
  typed.publish('device.exploded', { deviceId: 'd' });
  // @ts-expect-error: certificate.revoked carries a serial
  typed.publish('certificate.revoked', { deviceId: 'd' });
  // @ts-expect-error: an attestation result's status is an EAR status
  typed.publish('attestation.result', { ...result('d'), data: { ...result('d').data, status: 'fine' } });
  // @ts-expect-error: a subscriber of certificate.revoked gets no operator envelope
  typed.on('certificate.revoked', (e) => e.audience);
  // @ts-expect-error: publishMany is typed the same way
  typed.publishMany('device.enrolled', [{ deviceId: 'd', audience: [], data: { status: 'active' } }]);
}

describe('the typed event bus (LocalEventBus over FleetEvents)', () => {
  let errors: Array<{ name: string; error: unknown }>;
  let bus: LocalEventBus<FleetEvents>;
  beforeEach(() => {
    errors = [];
    bus = new LocalEventBus<FleetEvents>((name, error) => errors.push({ name: String(name), error }));
  });

  it('gives each subscriber the payloads published under its name, in order, and nothing else', () => {
    const results: string[] = [];
    const revoked: Array<FleetEvents['certificate.revoked']> = [];
    bus.on('attestation.result', (e) => results.push(`${e.deviceId}:${e.data.status}`));
    bus.on('certificate.revoked', (e) => revoked.push(e));
    bus.publish('attestation.result', result('d1'));
    bus.publish('certificate.revoked', { deviceId: 'd2', serial: '0a' });
    bus.publishMany('attestation.result', [result('d3', 'warning'), result('d4', 'contraindicated')]);
    bus.publish('attestation.stale', { deviceId: 'd5', audience: [], data: { status: 'stale', lastAffirmedAt: null } });
    expect(results).toEqual(['d1:affirming', 'd3:warning', 'd4:contraindicated']);
    expect(revoked).toEqual([{ deviceId: 'd2', serial: '0a' }]);
    expect(errors).toEqual([]);
  });

  it('stops calling a handler once unsubscribed; each subscription is undone on its own', () => {
    const seen: string[] = [];
    const handler = (e: FleetEvents['certificate.revoked']) => void seen.push(e.serial);
    const first = bus.on('certificate.revoked', handler);
    const second = bus.on('certificate.revoked', handler);
    bus.publish('certificate.revoked', { deviceId: 'd', serial: '01' });
    first();
    first(); // twice is harmless and leaves the other subscription alone
    bus.publish('certificate.revoked', { deviceId: 'd', serial: '02' });
    second();
    bus.publish('certificate.revoked', { deviceId: 'd', serial: '03' });
    expect(seen).toEqual(['01', '01', '02']);
    expect(bus.listenerCount('certificate.revoked')).toBe(0);
  });

  it('subscribing or unsubscribing while a payload is delivered: the others still get it, a new subscriber gets the next one', () => {
    const seen: string[] = [];
    const off = bus.on('certificate.revoked', (e) => {
      seen.push(`once:${e.serial}`);
      off();
      bus.on('certificate.revoked', (later) => void seen.push(`late:${later.serial}`));
    });
    bus.on('certificate.revoked', (e) => void seen.push(e.serial));
    bus.publish('certificate.revoked', { deviceId: 'd', serial: '01' });
    bus.publish('certificate.revoked', { deviceId: 'd', serial: '02' });
    expect(seen).toEqual(['once:01', '01', '02', 'late:02']);
  });

  it('a failing subscriber (thrown or rejected) is reported, and neither the publisher nor the other subscribers notice', async () => {
    const seen: string[] = [];
    bus.on('certificate.revoked', () => {
      throw new Error('thrown');
    });
    bus.on('certificate.revoked', async () => {
      throw new Error('rejected');
    });
    bus.on('certificate.revoked', (e) => void seen.push(e.deviceId));
    expect(() => bus.publish('certificate.revoked', { deviceId: 'd9', serial: '09' })).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['d9']);
    expect(errors.map((e) => [e.name, (e.error as Error).message])).toEqual([
      ['certificate.revoked', 'thrown'],
      ['certificate.revoked', 'rejected'],
    ]);
  });

  it('operator events are the stream/webhook ones; certificate.revoked stays inside the process', () => {
    for (const t of FLEET_EVENT_TYPES) expect(isOperatorEvent(t)).toBe(true);
    expect(isOperatorEvent('certificate.revoked')).toBe(false);
    expect(new Set(FLEET_EVENT_TYPES).size).toBe(FLEET_EVENT_TYPES.length);
  });
});
