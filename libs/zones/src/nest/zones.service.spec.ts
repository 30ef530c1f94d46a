import { Writable } from 'node:stream';
import type { Principal } from '@fleetguard/auth/nest';
import { createScorer, FR_KEYS, loadCatalog, loadFactRules, type SlVector } from '@fleetguard/hardening';
import type { ScoredDevice } from '@fleetguard/hardening/nest';
import { hardenedReport, trustedEvidence } from '@fleetguard/device-kit';
import { ExportAbandoned, ZonesService } from './zones.service';
import type { ZonesRepository, ZoneRow } from './zones.repository';

const EDR = createScorer(loadCatalog(), loadFactRules(), 'EDR');
const SCORE = EDR({ facts: hardenedReport(), ...trustedEvidence() });
const T2 = Object.fromEntries(FR_KEYS.map((k) => [k, 2])) as SlVector;
const ZONE: ZoneRow = { id: '00000000-0000-4000-8000-000000000001', organizationId: 'org', name: 'cell', targetLevels: T2, createdAt: new Date(), devices: 0 };
const P: Principal = { keyId: 'k', organizationId: 'org', organizationKind: 'operator', roles: ['operator'] } as Principal;

const scored = (id: string): ScoredDevice => ({
  deviceId: id,
  productId: 'p',
  scorer: EDR,
  score: SCORE,
  evidence: { reportId: null, attestationResultId: null, firmwareRelease: null },
  claimed: {},
  lifecycleFindings: [],
});

/**
 * ZonesService over a zone of `n` devices held in memory: deviceIds pages them in id order like the
 * repository's keyset query; scoreMany scores them (later calls may be made to fail) and records
 * how many reads overlap.
 */
function harness(n: number, scoreMany?: (ids: readonly string[], call: number) => Promise<ScoredDevice[]>) {
  const ids = Array.from({ length: n }, (_, i) => `dev-${String(i).padStart(6, '0')}`);
  const log = { deviceIds: [] as Array<string | null>, scoreCalls: 0, inFlight: 0, maxInFlight: 0, settled: 0 };
  const repo = {
    get: async () => ZONE,
    countermeasures: async () => [],
    deviceIds: async (_zone: string, after: string | null, limit: number) => {
      log.deviceIds.push(after);
      await new Promise((r) => setImmediate(r));
      const from = after === null ? 0 : ids.indexOf(after) + 1;
      return ids.slice(from, from + limit);
    },
  } as unknown as ZonesRepository;
  const hardening = {
    scoreMany: async (batch: readonly string[]) => {
      const call = log.scoreCalls++;
      log.inFlight++;
      log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        return scoreMany ? await scoreMany(batch, call) : batch.map(scored);
      } finally {
        log.inFlight--;
        log.settled++;
      }
    },
  };
  const service = new ZonesService(repo, hardening, { get: () => Promise.reject(new Error('unused')) });
  return { ids, log, service };
}

function collect(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

describe('ZonesService zone export, one batch read ahead', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));
  beforeEach(() => (unhandled.length = 0));
  const ticks = () => new Promise((r) => setTimeout(r, 30));

  it('writes every device once, in id order, over several batches, with one read in flight and no read past a short batch', async () => {
    const { ids, log, service } = harness(4500);
    const out = collect();
    await service.exportZone(P, ZONE.id, 'csv', out);
    const devicesInRows = out
      .text()
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.slice(0, l.indexOf(',')));
    const order = devicesInRows.filter((d, i) => d !== devicesInRows[i - 1]);
    expect(order).toEqual(ids);
    expect(log.deviceIds).toEqual([null, ids[1999], ids[3999]]);
    expect(log.maxInFlight).toBe(1);
    const summary = await service.get(P, ZONE.id);
    expect(summary.assessment.devices).toBe(4500);
  });

  it('a zone of exactly one batch reads once more and ends on the empty page', async () => {
    const { ids, log, service } = harness(2000);
    const summary = await service.get(P, ZONE.id);
    expect(summary.assessment.devices).toBe(2000);
    expect(log.deviceIds).toEqual([null, ids[1999]]);
  });

  it('a failing read of a later batch fails the export with its own error', async () => {
    const { service } = harness(4500, async (batch, call) => {
      if (call === 1) throw new Error('connection reset');
      return batch.map(scored);
    });
    await expect(service.exportZone(P, ZONE.id, 'csv', collect())).rejects.toThrow('connection reset');
    await ticks();
    expect(unhandled).toEqual([]);
  });

  it('when the client fails while the next batch is read and that read fails too: the client error, the read settled first, nothing unhandled', async () => {
    const { log, service } = harness(6000, async (batch, call) => {
      if (call >= 1) {
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('read failed after the client');
      }
      return batch.map(scored);
    });
    const out = new Writable({
      highWaterMark: 1,
      write(_c, _e, cb) {
        cb(new Error('client gone'));
      },
    });
    out.on('error', () => undefined);
    await expect(service.exportZone(P, ZONE.id, 'csv', out)).rejects.toThrow('client gone');
    // The read ahead (batch 2) was started and had settled before the export returned; no third read.
    expect(log.scoreCalls).toBe(2);
    expect(log.settled).toBe(2);
    await ticks();
    expect(unhandled).toEqual([]);
  });

  it('a client that stops reading and closes the connection ends the export (no wait for a drain that never comes)', async () => {
    const { log, service } = harness(20_000);
    // Never calls back: its buffer fills and stays full, as a client that stopped reading.
    const out = new Writable({ highWaterMark: 1024, write() {} });
    const run = service.exportZone(P, ZONE.id, 'csv', out);
    await new Promise((r) => setTimeout(r, 50));
    out.destroy(); // the connection closes
    await expect(run).rejects.toThrow(ExportAbandoned);
    expect(log.scoreCalls).toBeLessThan(20); // not every batch read and scored for nobody
  });
});
