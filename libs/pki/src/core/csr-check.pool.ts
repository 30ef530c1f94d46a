/**
 * CSR checks (parseCsr: decoding, key policy, proof-of-possession signature) on worker threads, so
 * the service's event loop keeps serving TLS, HTTP and the database while requests are checked.
 *
 * Each worker runs this same file (compiled, from dist/) and answers `{ id, der, options }` with
 * the parsed request or the DomainError it raised (code, message, kind, details), rebuilt on the
 * main thread so callers see exactly what an inline parseCsr would have thrown. A result is
 * registered as verified (csr.check's `rememberVerifiedCsr`) so issuance does not check the key
 * again. Requests are spread round-robin over the workers that have the fewest pending.
 *
 * Where workers cannot start from this file (TypeScript sources run by jest), or with `size: 0`,
 * the pool checks inline; `mode` says which.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { DomainError, DomainErrorKind } from '@fleetguard/common';
import { CsrCheckOptions, ParsedCsr, parseCsr, rememberVerifiedCsr } from './csr.check';

interface Job {
  id: number;
  der: Uint8Array;
  options: CsrCheckOptions;
}
type Reply =
  | { id: number; ok: true; parsed: Omit<ParsedCsr, 'subject' | 'commonName'> & { subject: string; commonName?: string } }
  | { id: number; ok: false; error: { domain: boolean; code?: string; message: string; kind?: DomainErrorKind; details?: Record<string, unknown> } };

interface Lane {
  worker: Worker;
  pending: Map<number, { resolve: (p: ParsedCsr) => void; reject: (e: unknown) => void }>;
}

export class CsrCheckPool {
  readonly mode: 'workers' | 'inline';
  private readonly lanes: Lane[] = [];
  private nextId = 1;
  private closed = false;

  /** `size` workers (default: one per core but one, at least one). */
  constructor(size = Math.max(1, availableParallelism() - 1)) {
    const canRunWorkers = __filename.endsWith('.js');
    this.mode = size > 0 && canRunWorkers ? 'workers' : 'inline';
    if (this.mode === 'inline') return;
    for (let i = 0; i < size; i++) this.lanes.push(this.startLane());
  }

  /** parseCsr, off the main thread when workers run. */
  check(input: string | Buffer, options: CsrCheckOptions = {}): Promise<ParsedCsr> {
    if (this.mode === 'inline' || this.closed) return parseCsr(input, options);
    const lane = this.lanes.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    const der = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
    return new Promise<ParsedCsr>((resolve, reject) => {
      lane.pending.set(id, { resolve, reject });
      lane.worker.postMessage({ id, der, options } satisfies Job);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }

  private startLane(): Lane {
    const worker = new Worker(__filename);
    worker.unref();
    const lane: Lane = { worker, pending: new Map() };
    worker.on('message', (reply: Reply) => {
      const waiter = lane.pending.get(reply.id);
      if (!waiter) return;
      lane.pending.delete(reply.id);
      if (reply.ok) {
        const parsed = { ...reply.parsed, publicKeySpkiDer: Buffer.from(reply.parsed.publicKeySpkiDer), raw: Buffer.from(reply.parsed.raw) };
        rememberVerifiedCsr(parsed);
        waiter.resolve(parsed);
      } else {
        const e = reply.error;
        waiter.reject(e.domain ? new DomainError(e.code!, e.message, e.kind, e.details) : new Error(e.message));
      }
    });
    worker.on('error', (err) => {
      // A crashed worker fails what it held and is replaced.
      for (const w of lane.pending.values()) w.reject(err);
      lane.pending.clear();
      if (this.closed) return;
      const i = this.lanes.indexOf(lane);
      if (i >= 0) this.lanes[i] = this.startLane();
    });
    return lane;
  }
}

/* ------------------------------------------------------------------- worker side */

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (job: Job) => {
    void (async (): Promise<Reply> => {
      try {
        const p = await parseCsr(Buffer.from(job.der), job.options);
        // Described here (eagerly): an undescribable subject is refused as csr.malformed, as inline.
        return { id: job.id, ok: true, parsed: { publicKeySpkiDer: p.publicKeySpkiDer, keyType: p.keyType, keyBits: p.keyBits, raw: p.raw, subject: p.subject, commonName: p.commonName } };
      } catch (e) {
        return e instanceof DomainError
          ? { id: job.id, ok: false, error: { domain: true, code: e.code, message: e.message, kind: e.kind, details: e.details } }
          : { id: job.id, ok: false, error: { domain: false, message: (e as Error)?.message ?? String(e) } };
      }
    })().then((reply) => port.postMessage(reply));
  });
}
