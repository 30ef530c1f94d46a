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
import { DomainError, DomainErrorKind, WorkerLanes, laneWorkerPort } from '@fleetguard/common';
import { CsrCheckOptions, ParsedCsr, parseCsr, rememberVerifiedCsr, subjectOfCheckedCsr, withSubjectOf } from './csr.check';

interface Job {
  id: number;
  input: string | Uint8Array;
  options: CsrCheckOptions;
}
type Reply =
  | { id: number; ok: true; parsed: Omit<ParsedCsr, 'subject' | 'commonName'> }
  | { id: number; ok: false; error: { domain: boolean; code?: string; message: string; kind?: DomainErrorKind; details?: Record<string, unknown> } };

export class CsrCheckPool {
  readonly mode: 'workers' | 'inline';
  private readonly lanes?: WorkerLanes<Job, Reply>;
  private nextId = 1;
  private closed = false;

  /** `size` workers (default: one per core but one, at least one). */
  constructor(size = Math.max(1, availableParallelism() - 1)) {
    const canRunWorkers = __filename.endsWith('.js');
    this.mode = size > 0 && canRunWorkers ? 'workers' : 'inline';
    if (this.mode === 'inline') return;
    this.lanes = new WorkerLanes(__filename, size, { encode: (jobs) => jobs, newState: () => undefined });
  }

  /** parseCsr, off the main thread when workers run. */
  async check(input: string | Buffer, options: CsrCheckOptions = {}): Promise<ParsedCsr> {
    if (!this.lanes || this.closed) return parseCsr(input, options);
    // A Buffer is copied to its own bytes: a pooled one would carry its whole 8 KiB pool across.
    const reply = await this.lanes.run({ id: this.nextId++, input: typeof input === 'string' ? input : Uint8Array.from(input), options });
    if (!reply.ok) {
      const e = reply.error;
      throw e.domain ? new DomainError(e.code!, e.message, e.kind, e.details) : new Error(e.message);
    }
    const raw = Buffer.from(reply.parsed.raw);
    // The subject is described here when asked, from the request's bytes, as inline (csr.malformed if it cannot be).
    const parsed = withSubjectOf({ ...reply.parsed, publicKeySpkiDer: Buffer.from(reply.parsed.publicKeySpkiDer), raw }, () => subjectOfCheckedCsr(raw));
    rememberVerifiedCsr(parsed);
    return parsed;
  }

  /** New checks run inline from now on; the workers finish what they hold (up to `drainMs`), then stop. */
  async close(drainMs = 2000): Promise<void> {
    this.closed = true;
    await this.lanes?.close(drainMs);
  }
}

/* ------------------------------------------------------------------- worker side */

const lanePort = laneWorkerPort(__filename);
if (lanePort) {
  const port = lanePort;
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
