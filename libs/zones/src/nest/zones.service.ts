import type { Writable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { conflict, invalid, isDeviceId, notFound } from '@fleetguard/common';
import type { Principal } from '@fleetguard/auth/nest';
import { DevicesService } from '@fleetguard/fleet/nest';
import { FR_KEYS, loadCatalog, loadFactRules, type ItemTable, type SlValue, type SlVector } from '@fleetguard/hardening';
import { HardeningService, type ProductScoringRow, type ScoredDevice } from '@fleetguard/hardening/nest';
import {
  AssessmentCsvWriter,
  assessmentHtml,
  assessmentOscal,
  coverage,
  countermeasureCovers,
  parseTargetLevels,
  ZoneAssessor,
  type AssessmentFormat,
  type AssessmentRow,
  type Countermeasure,
  type ZoneAssessment,
  type ZoneDevice,
} from '../core';
import { ZonesRepository, type ZoneRow } from './zones.repository';

const BATCH = 2000;
const MAX_CHANGE = 10_000;

export interface ZoneView {
  id: string;
  name: string;
  targetLevels: SlVector;
  devices: number;
  createdAt: Date;
}

const toView = (z: ZoneRow): ZoneView => ({ id: z.id, name: z.name, targetLevels: z.targetLevels, devices: z.devices, createdAt: z.createdAt });

const CSV_CHUNK = 1 << 20;

/** Where an assessment goes: each scored device with its item table (CSV streams; JSON, HTML and OSCAL keep rows). */
interface DeviceSink {
  device(d: ZoneDevice, table: ItemTable, assessor: ZoneAssessor): Promise<void> | void;
  flush(): Promise<void> | void;
}

/**
 * Zones of the asset owner (the operator organization): devices assigned (one zone per device),
 * SL-T per FR, compensating countermeasures, and the zone's SL-A computed from its devices'
 * current scores. 404 for another organization's zone or device.
 */
@Injectable()
export class ZonesService {
  private readonly catalog = loadCatalog();
  private readonly rulesVersion = loadFactRules().version;

  constructor(
    private readonly repo: ZonesRepository,
    // Only these methods: a benchmark assembles the service over the same functions, without Nest.
    @Inject(HardeningService) private readonly hardening: Pick<HardeningService, 'scoreMany'>,
    @Inject(DevicesService) private readonly devices: Pick<DevicesService, 'get'>,
  ) {}

  async create(p: Principal, body: { name?: unknown; targetLevels?: unknown }): Promise<ZoneView> {
    const name = typeof body?.name === 'string' ? body.name.trim() : '';
    if (!name || name.length > 200) throw invalid('zone.invalid-name', 'name must be 1..200 characters');
    const target = parseTargetLevels(body.targetLevels);
    const z = await this.repo.create(p.organizationId, name, target);
    if (!z) throw conflict('zone.name-taken', `a zone named ${JSON.stringify(name)} exists already`);
    return toView(z);
  }

  async list(p: Principal): Promise<ZoneView[]> {
    return (await this.repo.list(p.organizationId)).map(toView);
  }

  private async own(p: Principal, id: string): Promise<ZoneRow> {
    const z = await this.repo.get(p.organizationId, id);
    if (!z) throw notFound('zone.not-found', `no zone ${id}`);
    return z;
  }

  /** The zone with its assessment summary (SL-A per FR, countermeasures, gaps). */
  async get(p: Principal, id: string): Promise<ZoneView & { countermeasures: Countermeasure[]; assessment: ZoneAssessment }> {
    const z = await this.own(p, id);
    const countermeasures = await this.repo.countermeasures(z.id);
    const assessment = await this.assess(z, countermeasures, { device: () => undefined, flush: () => undefined });
    return { ...toView(z), countermeasures, assessment };
  }

  /** Sets the zone's SL-T per FR (`{targetLevels: {FR1..FR7}}`, all seven). */
  async setTargetLevels(p: Principal, id: string, body: { targetLevels?: unknown }): Promise<ZoneView> {
    const z = await this.own(p, id);
    if (typeof body !== 'object' || body === null || Object.keys(body).some((k) => k !== 'targetLevels')) {
      throw invalid('zone.invalid-target', 'the body is {targetLevels: {FR1..FR7: 0..4}}');
    }
    await this.repo.setTargetLevels(z.id, parseTargetLevels(body.targetLevels));
    return toView((await this.repo.get(p.organizationId, z.id))!);
  }

  async changeDevices(p: Principal, id: string, body: { add?: unknown; remove?: unknown }): Promise<ZoneView> {
    const z = await this.own(p, id);
    const list = (v: unknown, what: string): string[] => {
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.length > MAX_CHANGE || !v.every((x) => isDeviceId(x))) {
        throw invalid('zone.invalid-devices', `${what} must be a list of at most ${MAX_CHANGE} device ids`);
      }
      return [...new Set(v as string[])];
    };
    const add = list(body?.add, 'add');
    const remove = list(body?.remove, 'remove');
    if (typeof body !== 'object' || body === null || Object.keys(body).some((k) => k !== 'add' && k !== 'remove')) {
      throw invalid('zone.invalid-devices', 'the body is {add?: [ids], remove?: [ids]}');
    }
    const foreign = await this.repo.foreignDevices(p.organizationId, add);
    if (foreign.length) throw notFound('device.not-found', `no device ${foreign.slice(0, 10).join(', ')}`);
    const elsewhere = await this.repo.inOtherZones(z.id, add);
    if (elsewhere.length) throw conflict('zone.device-in-another-zone', `already in another zone: ${elsewhere.slice(0, 10).map((e) => e.deviceId).join(', ')}`);
    await this.repo.changeDevices(z.id, add, remove);
    return toView((await this.repo.get(p.organizationId, z.id))!);
  }

  async addCountermeasure(p: Principal, id: string, body: { requirement?: unknown; description?: unknown }): Promise<Countermeasure> {
    const z = await this.own(p, id);
    const requirement = typeof body?.requirement === 'string' ? body.requirement : '';
    const description = typeof body?.description === 'string' ? body.description.trim() : '';
    if (!description || description.length > 4000) throw invalid('zone.invalid-countermeasure', 'description (the justification) must be 1..4000 characters');
    countermeasureCovers(this.catalog, requirement); // 400 for an unknown requirement
    return this.repo.addCountermeasure(z.id, requirement, description, p.keyId);
  }

  /** Writes a zone's assessment in `format` to `out` (CSV streams row by row). */
  async exportZone(p: Principal, id: string, format: AssessmentFormat, out: Writable & { setHeader?(k: string, v: string): void }): Promise<void> {
    const z = await this.own(p, id);
    const countermeasures = await this.repo.countermeasures(z.id);
    await this.export(out, format, `Zone ${z.name}: IEC 62443 assessment`, `zone ${z.name} (${z.id})`, (sink) => this.assess(z, countermeasures, sink));
  }

  /** A device's assessment (a zone of one device, against its product's claimed SL-C); 404 for another tenant's device. */
  async exportDevice(p: Principal, deviceId: string, format: AssessmentFormat, out: Writable): Promise<void> {
    await this.devices.get(p, deviceId);
    const [d] = await this.hardening.scoreMany([deviceId]);
    if (!d) throw notFound('device.not-found', `no device ${deviceId}`);
    const target = Object.fromEntries(FR_KEYS.map((k) => [k, (d.claimed[k] ?? 0) as SlValue])) as SlVector;
    await this.export(out, format, `Device ${deviceId}: IEC 62443-4-2 assessment`, `device ${deviceId} (against its product's claimed SL-C)`, async (sink) => {
      const a = new ZoneAssessor(target, [], new Map());
      const zd = toZoneDevice(d);
      const table = zd.score.table();
      a.accumulate(zd, table);
      await sink.device(zd, table, a);
      await sink.flush();
      return a.result();
    });
  }

  private async export(out: Writable, format: AssessmentFormat, title: string, subject: string, run: (sink: DeviceSink) => Promise<ZoneAssessment>): Promise<void> {
    const generatedAt = new Date().toISOString();
    if (format === 'csv') {
      // Rows are written as UTF-8 bytes (AssessmentCsvWriter: the bytes csv-stringify would write)
      // in chunks of about 1 MiB with backpressure: a 100,000-device zone is 8 million rows.
      const csv = new AssessmentCsvWriter(CSV_CHUNK);
      const flush = async () => {
        const chunk = csv.take();
        // A client that went away stops the export (its reads and scoring) instead of waiting for a drain that never comes.
        if (out.destroyed || out.writableEnded) throw out.errored ?? new ExportAbandoned();
        if (chunk.length && !out.write(chunk)) await drainedOrClosed(out);
        if (out.destroyed) throw out.errored ?? new ExportAbandoned();
      };
      await run({
        device: async (d, table, a) => {
          csv.device(d, table, a.coverOf(d.scorer));
          if (csv.size >= CSV_CHUNK) await flush();
        },
        flush,
      });
      await flush();
      out.end();
      await finishedOrClosed(out);
      return;
    }
    const rows: AssessmentRow[] = [];
    const assessment = await run({ device: (d, table, a) => void rows.push(...a.rowsOf(d, table)), flush: () => undefined });
    const body =
      format === 'html'
        ? assessmentHtml({ title, subject, generatedAt, assessment, rows })
        : format === 'oscal'
          ? JSON.stringify(assessmentOscal({ title, subject, generatedAt, assessment, rows, versions: { rulesVersion: this.rulesVersion, catalogVersion: this.catalog.version } }))
          : JSON.stringify({ title, subject, generatedAt, assessment, rows });
    out.end(body);
    await finishedOrClosed(out);
  }

  /**
   * Scores the zone's devices in keyset batches (id order) and accumulates SL-A, countermeasures
   * and gaps. One batch ahead: while batch k is tabled and written to the sink, the database reads
   * batch k+1 (its ids, then its devices with their latest reports). Only one read is in flight,
   * so the shared product map is filled by one batch at a time and rows leave in id order.
   */
  private async assess(z: ZoneRow, countermeasures: readonly Countermeasure[], sink: DeviceSink): Promise<ZoneAssessment> {
    const a = new ZoneAssessor(z.targetLevels, countermeasures, coverage(this.catalog, countermeasures));
    const products = new Map<string, ProductScoringRow>();
    type Batch = { ids: string[]; scored: ScoredDevice[] };
    const read = (after: string | null): Promise<Batch> => {
      const p = (async () => {
        const ids = await this.repo.deviceIds(z.id, after, BATCH);
        return { ids, scored: ids.length ? await this.hardening.scoreMany(ids, products) : [] };
      })();
      // Awaited later: if the sink fails first, this read's own failure must not go unhandled.
      p.catch(() => undefined);
      return p;
    };
    let pending: Promise<Batch> | null = read(null);
    try {
      while (pending) {
        const { ids, scored }: Batch = await pending;
        // A short batch is the last one: no further read.
        pending = ids.length === BATCH ? read(ids[ids.length - 1]) : null;
        for (const d of scored) {
          const zd = toZoneDevice(d);
          const table = zd.score.table();
          a.accumulate(zd, table);
          await sink.device(zd, table, a);
        }
      }
    } finally {
      // On a failure (a closed client), let the read ahead settle before the caller moves on.
      if (pending) await pending.catch(() => undefined);
    }
    return a.result();
  }
}

function toZoneDevice(d: ScoredDevice): ZoneDevice {
  return { deviceId: d.deviceId, scorer: d.scorer, score: d.score, evidence: d.evidence, lifecycleFindings: d.lifecycleFindings };
}

/** The client closed the connection during an export: nothing is left to write to. */
export class ExportAbandoned extends Error {
  constructor() {
    super('the client closed the connection during the export');
  }
}

/** Resolves when `out` can take more, or has closed (a client that went away never drains). */
function drainedOrClosed(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
  });
}

/** Resolves when `out` has flushed everything, or has closed before it could. */
function finishedOrClosed(out: Writable): Promise<void> {
  if (out.writableFinished || out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off('finish', done);
      out.off('close', done);
      resolve();
    };
    out.once('finish', done);
    out.once('close', done);
  });
}
