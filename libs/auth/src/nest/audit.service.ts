import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditChainVerifier, AuditRecord, ChainedAuditRecord, ChainVerdict, GENESIS_HASH, chain } from '../core/audit-chain';
import { storableJson, storableText } from '../core/storable-text';
import { AuditEntryEntity } from '../entities/audit-entry.entity';

export interface AuditInput {
  actor: string;
  organizationId?: string | null;
  action: string;
  resource?: string | null;
  outcome: string;
  details?: Record<string, unknown>;
}

const AUDIT_LOCK_KEY = 0x41756474; // 'Audt'

const INSERT_AUDIT_SQL = `
  INSERT INTO audit_log (seq, at, actor, organization_id, action, resource, outcome, details, prev_hash, hash)
  SELECT seq::bigint, at::timestamptz, actor, organization_id::uuid, action, resource, outcome, details::jsonb, prev_hash, hash
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
    AS i(seq, at, actor, organization_id, action, resource, outcome, details, prev_hash, hash)`;

/**
 * Appends to the hash-chained audit log. Appends are batched: callers queue an entry and await it;
 * one flush at a time writes every queued entry in a transaction that holds an advisory lock (so
 * several service instances on one PostgreSQL still build one chain). An entry is acknowledged
 * only once committed.
 */
@Injectable()
export class AuditService implements OnModuleDestroy {
  private readonly logger = new Logger('Audit');
  private queue: Array<{ input: AuditInput; at: Date; resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushing: Promise<void> | null = null;

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  append(input: AuditInput): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, at: new Date(), resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  /**
   * Writes one entry inside the caller's transaction, so the entry and the business write commit
   * or roll back together (a write whose entry cannot be stored is not acknowledged).
   */
  async appendIn(m: EntityManager, input: AuditInput): Promise<void> {
    await this.writeBatch(m, [{ input, at: new Date() }]);
  }

  /** appendIn for several entries (a grouped business write): one lock, one read of the head, one insert. */
  async appendManyIn(m: EntityManager, inputs: readonly AuditInput[]): Promise<void> {
    if (!inputs.length) return;
    const at = new Date();
    await this.writeBatch(
      m,
      inputs.map((input) => ({ input, at })),
    );
  }

  private async writeBatch(m: EntityManager, batch: ReadonlyArray<{ input: AuditInput; at: Date }>): Promise<void> {
    await m.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
    const head: Array<{ seq: string; hash: string }> = await m.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    let seq = head.length ? Number(head[0].seq) : 0;
    let prev = head.length ? head[0].hash : GENESIS_HASH;
    const rows: ChainedAuditRecord[] = [];
    for (const { input, at } of batch) {
      seq++;
      const c = chain(prev, storableRecord(seq, at, input));
      prev = c.hash;
      rows.push(c);
    }
    // One INSERT of plain rows (no entity read-back): arrays as text, which node-postgres and PGlite pass alike.
    const col = <T>(f: (r: ChainedAuditRecord) => T) => rows.map(f);
    await m.query(INSERT_AUDIT_SQL, [
      col((r) => String(r.seq)),
      col((r) => r.at),
      col((r) => r.actor),
      col((r) => r.organizationId),
      col((r) => r.action),
      col((r) => r.resource),
      col((r) => r.outcome),
      col((r) => JSON.stringify(r.details)),
      col((r) => r.prevHash),
      col((r) => r.hash),
    ]);
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, 500);
        try {
          await this.ds.transaction((m) => this.writeBatch(m, batch));
          batch.forEach((b) => b.resolve());
        } catch (e) {
          if (batch.length === 1) {
            this.logger.error(`audit append failed: ${(e as Error).message}`);
            batch[0].reject(e);
            continue;
          }
          // One entry must not take the others down with it: write them one by one, so only the
          // entry that cannot be stored fails (and its caller's write is not acknowledged).
          for (const b of batch) {
            try {
              await this.ds.transaction((m) => this.writeBatch(m, [b]));
              b.resolve();
            } catch (e1) {
              this.logger.error(`audit append failed: ${(e1 as Error).message}`);
              b.reject(e1);
            }
          }
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  async list(opts: { afterSeq?: number; limit: number; organizationId?: string }): Promise<AuditEntryEntity[]> {
    const qb = this.ds.getRepository(AuditEntryEntity).createQueryBuilder('a').orderBy('a.seq', 'ASC').limit(opts.limit);
    if (opts.afterSeq) qb.andWhere('a.seq > :after', { after: opts.afterSeq });
    if (opts.organizationId) qb.andWhere('a.organization_id = :org', { org: opts.organizationId });
    return qb.getMany();
  }

  /** Recomputes the whole chain in batches and names the first broken link. */
  async verify(): Promise<ChainVerdict> {
    const v = new AuditChainVerifier();
    let after = 0;
    for (;;) {
      const batch = await this.ds
        .getRepository(AuditEntryEntity)
        .createQueryBuilder('a')
        .where('a.seq > :after', { after })
        .orderBy('a.seq', 'ASC')
        .limit(5000)
        .getMany();
      if (!batch.length) break;
      const ok = v.feed(batch.map((e) => ({ ...e, at: e.at.toISOString(), details: e.details ?? {} })));
      after = batch[batch.length - 1].seq;
      if (!ok) break;
    }
    return v.result();
  }

  async onModuleDestroy(): Promise<void> {
    await this.flushing;
  }
}

/** The record as stored and hashed: every caller-controlled string made storable, cut to its column. */
export function storableRecord(seq: number, at: Date, input: AuditInput): AuditRecord {
  return {
    seq,
    at: at.toISOString(),
    actor: storableText(input.actor, 199),
    organizationId: input.organizationId ?? null,
    action: storableText(input.action, 199),
    resource: input.resource == null ? null : storableText(input.resource, 499),
    outcome: storableText(input.outcome, 39),
    details: storableJson(input.details ?? {}) as Record<string, unknown>,
  };
}
