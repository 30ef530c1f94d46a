/**
 * CSR checks (parseCsr: decoding, key policy, proof-of-possession signature) on worker threads, so
 * the service's event loop keeps serving TLS, HTTP and the database while requests are checked.
 *
 * Each worker runs this same file (compiled, from dist/) and answers each `{ id, input, options }`
 * with the parsed request or the DomainError it raised (code, message, kind, details), rebuilt on
 * the main thread so callers see exactly what an inline parseCsr would have thrown. The subject
 * is described on the main thread if asked (enrollment never asks), as inline parseCsr does. A result is
 * registered as verified (csr.check's `rememberVerifiedCsr`) so issuance does not check the key
 * again. Requests go to the worker with the fewest pending.
 *
 * Messages are batched: the requests of one turn of the event loop go to a worker in one message
 * and its answers come back in one, since a message between threads costs the main thread about
 * as much as checking a CSR costs the worker. A PEM request travels as the string it came as.
 *
 * Where workers cannot start from this file (TypeScript sources run by jest), or with `size: 0`,
 * the pool checks inline; `mode` says which.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { DomainError, DomainErrorKind } from '@fleetguard/common';
import { CsrCheckOptions, ParsedCsr, parseCsr, rememberVerifiedCsr, subjectOfCheckedCsr, withSubjectOf } from './csr.check';

interface Job {
  id: number;
  input: string | Uint8Array;
  options: CsrCheckOptions;
}
type Reply =
  | { id: number; ok: true; parsed: Omit<ParsedCsr, 'subject' | 'commonName'> }
  | { id: number; ok: false; error: { domain: boolean; code?: string; message: string; kind?: DomainErrorKind; details?: Record<string, unknown> } };

interface Lane {
  worker: Worker;
  pending: Map<number, { resolve: (p: ParsedCsr) => void; reject: (e: unknown) => void }>;
  /** Jobs of this turn of the loop, posted together on the next (setImmediate). */
  outbox: Job[];
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
    // A Buffer is copied to its own bytes: a pooled one would carry its whole 8 KiB pool across.
    const job: Job = { id, input: typeof input === 'string' ? input : Uint8Array.from(input), options };
    return new Promise<ParsedCsr>((resolve, reject) => {
      lane.pending.set(id, { resolve, reject });
      if (lane.outbox.push(job) === 1) setImmediate(() => this.post(lane));
    });
  }

  private post(lane: Lane): void {
    const jobs = lane.outbox;
    lane.outbox = [];
    if (jobs.length) lane.worker.postMessage(jobs);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }

  private startLane(): Lane {
    const worker = new Worker(__filename);
    worker.unref();
    const lane: Lane = { worker, pending: new Map(), outbox: [] };
    worker.on('message', (replies: Reply[]) => {
      for (const reply of replies) {
        const waiter = lane.pending.get(reply.id);
        if (!waiter) continue;
        lane.pending.delete(reply.id);
        if (reply.ok) {
          const raw = Buffer.from(reply.parsed.raw);
          // The subject is described here when asked, from the request's bytes, as inline (csr.malformed if it cannot be).
          const parsed = withSubjectOf({ ...reply.parsed, publicKeySpkiDer: Buffer.from(reply.parsed.publicKeySpkiDer), raw }, () => subjectOfCheckedCsr(raw));
          rememberVerifiedCsr(parsed);
          waiter.resolve(parsed);
        } else {
          const e = reply.error;
          waiter.reject(e.domain ? new DomainError(e.code!, e.message, e.kind, e.details) : new Error(e.message));
        }
      }
    });
    worker.on('error', (err) => {
      // A crashed worker fails what it held and is replaced.
      for (const w of lane.pending.values()) w.reject(err);
      lane.pending.clear();
      lane.outbox = [];
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
  const checkOne = async (job: Job): Promise<Reply> => {
    try {
      const input = typeof job.input === 'string' ? job.input : Buffer.from(job.input.buffer, job.input.byteOffset, job.input.byteLength);
      const p = await parseCsr(input, job.options);
      return { id: job.id, ok: true, parsed: { publicKeySpkiDer: p.publicKeySpkiDer, keyType: p.keyType, keyBits: p.keyBits, raw: p.raw } };
    } catch (e) {
      return e instanceof DomainError
        ? { id: job.id, ok: false, error: { domain: true, code: e.code, message: e.message, kind: e.kind, details: e.details } }
        : { id: job.id, ok: false, error: { domain: false, message: (e as Error)?.message ?? String(e) } };
    }
  };
  port.on('message', (jobs: Job[]) => {
    void Promise.all(jobs.map(checkOne)).then((replies) => port.postMessage(replies));
  });
}
