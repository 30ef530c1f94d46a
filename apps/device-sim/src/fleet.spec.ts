import { DataSource } from 'typeorm';
import { BrokerService } from '@fleetguard/broker/nest';
import { productWithRelease } from '../../../test/support/fleet-fixture';
import { TestService, createTenant, startTestService } from '../../../test/support/service';
import { summarizeEar } from './ear-result.decoder';
import { planFleet, runFleet } from './fleet';
import { SimulatedDevice } from './simulated-device';

const tally = (xs: string[]) => xs.reduce<Record<string, number>>((t, x) => ({ ...t, [x]: (t[x] ?? 0) + 1 }), {});

describe('planFleet', () => {
  it('apportions weights to the count (largest remainder) and spreads them through the fleet', () => {
    const plan = planFleet(20, { good: 90, tampered: 5, rollback: 3, weak: 2 });
    expect(plan).toHaveLength(20);
    expect(tally(plan)).toEqual({ good: 18, 'tampered-component': 1, rollback: 1 });
    expect(tally(planFleet(100, { good: 90, tampered: 5, rollback: 3, weak: 2 }))).toEqual({ good: 90, 'tampered-component': 5, rollback: 3, 'weak-config': 2 });
    expect(tally(planFleet(3, { good: 1, tampered: 1, rollback: 1 }))).toEqual({ good: 1, 'tampered-component': 1, rollback: 1 });
    const half = planFleet(10, { good: 1, silent: 1 });
    expect(tally(half.slice(0, 4))).toEqual({ good: 2, silent: 2 }); // mixed from the start
    expect(planFleet(4)).toEqual(['good', 'good', 'good', 'good']);
    expect(planFleet(0, { good: 1 })).toEqual([]);
    expect(planFleet(5, { good: 0.5, wrongKey: 0.5 })).toEqual(planFleet(5, { good: 0.5, wrongKey: 0.5 }));
  });

  it('refuses bad input', () => {
    expect(() => planFleet(-1)).toThrow(/count/);
    expect(() => planFleet(2, { good: 0 })).toThrow(/positive weight/);
    expect(() => planFleet(2, { good: -1 })).toThrow(/non-negative/);
    expect(() => planFleet(2, { good: 1, evil: 1 } as never)).toThrow(/unknown mix key 'evil'/);
  });
});

describe('runFleet against the Fleetguard service', () => {
  let s: TestService;
  let ds: DataSource;
  let broker: BrokerService;
  let operator: Awaited<ReturnType<typeof createTenant>>;
  let fixture: Awaited<ReturnType<typeof productWithRelease>>;

  beforeAll(async () => {
    s = await startTestService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
    ds = s.app.get(DataSource);
    broker = s.app.get(BrokerService);
    operator = await createTenant(s.api, 'operator');
    fixture = await productWithRelease(s.api, { operator });
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  const base = () => ({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, profile: fixture.profile });

  /** Waits for the broker to drop the devices' sessions; returns those still connected. */
  async function stillConnected(ids: string[]): Promise<string[]> {
    for (let i = 0; i < 200 && ids.some((id) => broker.isConnected(id)); i++) await new Promise((r) => setTimeout(r, 25));
    return ids.filter((id) => broker.isConnected(id));
  }

  it('enrolls and connects N devices with bounded concurrency; each gets the result its behaviour earns', async () => {
    const progress: number[] = [];
    const seen: SimulatedDevice[] = [];
    const fleet = await runFleet({
      ...base(),
      count: 8,
      mix: { good: 4, tampered: 2, rollback: 1, weak: 1 },
      tokens: await fixture.tokens(8),
      concurrency: 3,
      onDevice: (d) => seen.push(d),
      onProgress: ({ done, failed }) => progress.push(done + failed),
    });
    try {
      expect(fleet.devices).toHaveLength(8);
      expect(fleet.failures).toEqual([]);
      expect(seen).toHaveLength(8);
      expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(fleet.byBehaviour('good')).toHaveLength(4);
      expect(fleet.byBehaviour('tampered-component')).toHaveLength(2);
      expect(fleet.devices.every((d) => broker.isConnected(d.deviceId))).toBe(true);
      const statuses = await Promise.all(fleet.devices.map(async (d) => [d.behaviour, summarizeEar(await d.waitForResult(30_000, { since: 0 })).status]));
      for (const [behaviour, status] of statuses) {
        expect([behaviour, status]).toEqual([behaviour, behaviour === 'good' || behaviour === 'weak-config' ? 'affirming' : 'contraindicated']);
      }
      expect(new Set(fleet.devices.map((d) => d.deviceId)).size).toBe(8);
      // The service has the same story: one result per device, the EAR it sent; one report per device.
      for (const d of fleet.devices) {
        const history = await s.api.get(`/api/v1/devices/${d.deviceId}/attestations`, operator.key);
        expect(history.status).toBe(200);
        expect(history.body.items.map((i: { status: string; ear: string }) => [i.status, i.ear])).toEqual([[summarizeEar(d.results[0]).status, d.results[0]]]);
        const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM hardening_reports WHERE device_id = $1', [d.deviceId]);
        expect([d.behaviour, n]).toEqual([d.behaviour, 1]);
      }
    } finally {
      await fleet.close();
    }
    expect(fleet.devices.every((d) => !d.isConnected)).toBe(true);
    expect(await stillConnected(fleet.devices.map((d) => d.deviceId))).toEqual([]);
  });

  it('without allowFailures, the first failure closes every device and rejects', async () => {
    const tokens = await fixture.tokens(3);
    tokens[1] = 'fgt_not-a-real-token';
    const started: SimulatedDevice[] = [];
    await expect(runFleet({ ...base(), count: 3, tokens, concurrency: 1, onDevice: (d) => started.push(d) })).rejects.toThrow(
      /device 1 \(good\) failed: POST \/enroll failed with HTTP 401: the enrollment token is not valid/,
    );
    // Device 0 had enrolled and connected; device 2 never started.
    expect(started).toHaveLength(2);
    expect(started[0].isEnrolled).toBe(true);
    expect(started[1].isEnrolled).toBe(false);
    expect(started.every((d) => !d.isConnected)).toBe(true);
    expect(await stillConnected([started[0].deviceId])).toEqual([]);
    expect(broker.connectedDevices()).toEqual([]);
  });

  it('with allowFailures, reports failures and returns the devices that started', async () => {
    const tokens = await fixture.tokens(3);
    tokens[0] = 'fgt_not-a-real-token';
    const fleet = await runFleet({ ...base(), count: 3, tokens, allowFailures: true, connect: false });
    try {
      expect(fleet.devices).toHaveLength(2);
      expect(fleet.devices.every((d) => d.isEnrolled && !d.isConnected)).toBe(true);
      expect(fleet.failures.map((f) => [f.index, f.behaviour])).toEqual([[0, 'good']]);
      expect(fleet.failures[0].error.message).toMatch(/HTTP 401/);
      for (const d of fleet.devices) {
        const view = await s.api.get(`/api/v1/devices/${d.deviceId}`, operator.key);
        expect([view.status, view.body.status, view.body.lastSeenAt]).toEqual([200, 'active', null]);
        expect(broker.isConnected(d.deviceId)).toBe(false);
      }
    } finally {
      await fleet.close();
    }
  });

  it('checks its options', async () => {
    await expect(runFleet({ ...base(), count: 2, tokens: ['a'] })).rejects.toThrow(/needs 2 enrollment tokens, got 1/);
    await expect(runFleet({ ...base(), count: 1, tokens: ['a'], concurrency: 0 })).rejects.toThrow(/concurrency/);
    const aborted = AbortSignal.abort();
    await expect(runFleet({ ...base(), count: 1, tokens: ['a'], signal: aborted })).rejects.toThrow();
  });
});
