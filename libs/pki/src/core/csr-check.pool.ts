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
 * `checkAndIssue` also writes and signs the device certificate on the worker, after the check
 * (certificate-authority.ts writeDeviceCertificate, the bytes issuance on the main thread
 * writes): the main thread keeps only the checked fields (CertificateAuthority.deviceIssue).
 * A worker gets a CA's template DER and key with its first job for that CA (a KeyObject is
 * cloned to the worker, never exported); a replacement worker gets them again.
 *
 * Where workers cannot start from this file (TypeScript sources run by jest), or with `size: 0`,
 * the pool checks inline; `mode` says which.
 */
import { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { DomainError, DomainErrorKind, WorkerLanes, laneWorkerPort, ownBytes } from '@fleetguard/common';
import { DeviceIssue, writeDeviceCertificate } from './certificate-authority';
import { CsrCheckOptions, ParsedCsr, parseCsr, rememberVerifiedCsr, subjectOfCheckedCsr, withSubjectOf } from './csr.check';
import { DeviceTemplateParts } from './device-certificate.template';
import { KeyObjectSigner } from './x509.signer';

/** A CA as workers hold it: its template DER and its issuing key. */
interface Issuer {
  id: number;
  parts: DeviceTemplateParts;
  key: KeyObject;
}
/** What a worker needs to issue after the check: the CA (by id) and the certificate's fields. */
interface IssueJob {
  issuer: number;
  deviceId: string;
  serial: Uint8Array;
  notBefore: number;
  notAfter: number;
}
interface Job {
  id: number;
  input: string | Uint8Array;
  options: CsrCheckOptions;
  issue?: IssueJob;
}
/** One turn's jobs to a worker, with the CAs it does not hold yet. */
interface Message {
  jobs: Job[];
  issuers: Issuer[];
}
type Reply =
  | { id: number; ok: true; parsed: Omit<ParsedCsr, 'subject' | 'commonName' | 'publicKeySpkiDer' | 'raw'> & { publicKeySpkiDer: Uint8Array; raw: Uint8Array }; certificate?: { der: Uint8Array; pem: string } }
  | { id: number; ok: false; error: { domain: boolean; code?: string; message: string; kind?: DomainErrorKind; details?: Record<string, unknown> } };

export class CsrCheckPool {
  readonly mode: 'workers' | 'inline';
  private readonly lanes?: WorkerLanes<Job, Reply, Set<number>>;
  private nextId = 1;
  private closed = false;
  /** CAs by their template parts (one object per CA and URLs: CertificateAuthority.deviceIssue). */
  private readonly issuerIds = new WeakMap<DeviceTemplateParts, Issuer>();
  private readonly issuers = new Map<number, Issuer>();

  /** `size` workers (default: one per core but one, at least one). */
  constructor(size = Math.max(1, availableParallelism() - 1)) {
    const canRunWorkers = __filename.endsWith('.js');
    this.mode = size > 0 && canRunWorkers ? 'workers' : 'inline';
    if (this.mode === 'inline') return;
    this.lanes = new WorkerLanes(__filename, size, { encode: (jobs, held) => this.encode(jobs, held), newState: () => new Set<number>() });
  }

  /** parseCsr, off the main thread when workers run. */
  async check(input: string | Buffer, options: CsrCheckOptions = {}): Promise<ParsedCsr> {
    if (!this.lanes || this.closed) return parseCsr(input, options);
    return this.parsedOf(await this.send(input, options));
  }

  /**
   * parseCsr, then the device certificate of `issue` for the checked key, signed with `key` (the
   * CA's issuing key: CertificateAuthority.workerKey), both off the main thread when workers run.
   * A refused request is refused as by `check`, and nothing is signed.
   */
  async checkAndIssue(input: string | Buffer, options: CsrCheckOptions, issue: DeviceIssue, key: KeyObject): Promise<{ csr: ParsedCsr; der: Buffer; pem: string }> {
    if (!this.lanes || this.closed) {
      const csr = await parseCsr(input, options);
      return { csr, ...(await writeDeviceCertificate(issue, csr, new KeyObjectSigner(key))) };
    }
    const issuer = this.issuerOf(issue.parts, key);
    const reply = await this.send(input, options, { issuer: issuer.id, deviceId: issue.deviceId, serial: ownBytes(issue.serial.bytes), notBefore: issue.notBefore.getTime(), notAfter: issue.notAfter.getTime() });
    const csr = this.parsedOf(reply);
    const certificate = (reply as Extract<Reply, { ok: true }>).certificate!;
    return { csr, der: Buffer.from(certificate.der.buffer, certificate.der.byteOffset, certificate.der.byteLength), pem: certificate.pem };
  }

  private send(input: string | Buffer, options: CsrCheckOptions, issue?: IssueJob): Promise<Reply> {
    // Bytes travel as their own (ownBytes): a pooled Buffer would carry its whole 8 KiB pool across.
    return this.lanes!.run({ id: this.nextId++, input: typeof input === 'string' ? input : Uint8Array.from(input), options, issue });
  }

  private parsedOf(reply: Reply): ParsedCsr {
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

  private issuerOf(parts: DeviceTemplateParts, key: KeyObject): Issuer {
    let issuer = this.issuerIds.get(parts);
    if (!issuer || issuer.key !== key) {
      issuer = { id: this.issuers.size + 1, parts, key };
      this.issuerIds.set(parts, issuer);
      this.issuers.set(issuer.id, issuer);
    }
    return issuer;
  }

  /** One turn's message to a worker: the jobs, and the CAs they name that this worker does not hold yet. */
  private encode(jobs: Job[], held: Set<number>): Message {
    const issuers: Issuer[] = [];
    for (const job of jobs) {
      const id = job.issue?.issuer;
      if (id === undefined || held.has(id)) continue;
      held.add(id);
      issuers.push(this.issuers.get(id)!);
    }
    return { jobs, issuers };
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
  const issuers = new Map<number, { parts: DeviceTemplateParts; signer: KeyObjectSigner }>();
  const checkOne = async (job: Job): Promise<Reply> => {
    try {
      const input = typeof job.input === 'string' ? job.input : Buffer.from(job.input.buffer, job.input.byteOffset, job.input.byteLength);
      const p = await parseCsr(input, job.options);
      // The replies' bytes as their own (ownBytes): decoded and signed bytes are views into Node's 8 KiB pool.
      const parsed = { publicKeySpkiDer: ownBytes(p.publicKeySpkiDer), keyType: p.keyType, keyBits: p.keyBits, raw: ownBytes(p.raw) };
      if (!job.issue) return { id: job.id, ok: true, parsed };
      const { issuer: issuerId, deviceId, serial, notBefore, notAfter } = job.issue;
      const issuer = issuers.get(issuerId)!;
      const certificate = await writeDeviceCertificate(
        { deviceId, serial: { bytes: Buffer.from(serial.buffer, serial.byteOffset, serial.byteLength) }, notBefore: new Date(notBefore), notAfter: new Date(notAfter), parts: issuer.parts },
        p,
        issuer.signer,
      );
      return { id: job.id, ok: true, parsed, certificate: { der: ownBytes(certificate.der), pem: certificate.pem } };
    } catch (e) {
      return e instanceof DomainError
        ? { id: job.id, ok: false, error: { domain: true, code: e.code, message: e.message, kind: e.kind, details: e.details } }
        : { id: job.id, ok: false, error: { domain: false, message: (e as Error)?.message ?? String(e) } };
    }
  };
  port.on('message', (message: Message) => {
    for (const i of message.issuers) {
      const bytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      const parts = { signatureAlgorithmDer: bytes(i.parts.signatureAlgorithmDer), issuerDer: bytes(i.parts.issuerDer), fixedBefore: bytes(i.parts.fixedBefore), fixedAfter: bytes(i.parts.fixedAfter) };
      issuers.set(i.id, { parts, signer: new KeyObjectSigner(i.key) });
    }
    void Promise.all(message.jobs.map(checkOne)).then((replies) => port.postMessage(replies));
  });
}
