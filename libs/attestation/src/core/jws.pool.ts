/**
 * The appraisal's signatures on worker threads: evidence JWS verified and EAR signing inputs
 * signed with node:crypto (jws.compact.ts) off the service's event loop, which keeps serving TLS,
 * MQTT and the database meanwhile.
 *
 * Batched both ways: the jobs of one turn of the event loop go to a worker in one message and its
 * answers come back in one (a message between threads costs about what the signature does; a
 * wake-up per job cost the loop more than the work). Keys cross once per worker: each KeyObject
 * gets a number on first use and the worker keeps it under that number (up to KEYS_PER_WORKER,
 * then it forgets them all and they are sent again). Jobs go to the worker with the fewest pending.
 *
 * Where workers cannot start from this file (TypeScript sources run by jest), with `size: 0` or
 * after close(), the same functions run inline; `mode` says which. A worker that dies fails the
 * jobs it held and is replaced.
 */
import { availableParallelism } from 'node:os';
import type { KeyObject } from 'node:crypto';
import { WorkerLanes, laneWorkerPort } from '@fleetguard/common';
import { JwsVerification, signJwsInput, verifyCompactJws } from './jws.compact';

/** Keys a worker keeps before it starts again (a device key is about a kilobyte there). */
const KEYS_PER_WORKER = 50_000;

type Work = { op: 'verify'; jws: string; algorithms: readonly string[] } | { op: 'sign'; input: string; alg: string };
/** A job as posted: the key itself only when the worker does not hold it under `keyId` yet. */
type Job = { id: number; keyId: number; key?: KeyObject } & Work;
type Message = { forget: boolean; jobs: Job[] };
type Reply = { id: number; verified?: JwsVerification; signature?: string; error?: string };

/** A job in a worker's outbox, with the key it needs (sent only if that worker lacks it). */
type Queued = { id: number; job: Job; key: KeyObject };

/** What the appraisal needs of a signature service: the pool, or the same work inline. */
export interface JwsCrypto {
  verify(jws: string, key: KeyObject, algorithms: readonly string[]): Promise<JwsVerification>;
  /** The base64url signature of `signingInput`. */
  sign(signingInput: string, alg: string, key: KeyObject): Promise<string>;
}

export class JwsPool implements JwsCrypto {
  readonly mode: 'workers' | 'inline';
  /** Per worker, the key numbers it holds. */
  private readonly lanes?: WorkerLanes<Queued, Reply, Set<number>>;
  private readonly keyIds = new WeakMap<KeyObject, number>();
  private nextKeyId = 1;
  private nextId = 1;
  private closed = false;

  /** `size` workers (default: one per core but one, at least one); `keysPerWorker` before a worker forgets them. */
  constructor(
    size = Math.max(1, availableParallelism() - 1),
    private readonly keysPerWorker = KEYS_PER_WORKER,
  ) {
    const canRunWorkers = __filename.endsWith('.js');
    this.mode = size > 0 && canRunWorkers ? 'workers' : 'inline';
    if (this.mode === 'inline') return;
    this.lanes = new WorkerLanes(__filename, size, { encode: (queued, keys) => this.encode(queued, keys), newState: () => new Set<number>() });
  }

  verify(jws: string, key: KeyObject, algorithms: readonly string[]): Promise<JwsVerification> {
    if (!this.lanes || this.closed) return Promise.resolve(verifyCompactJws(jws, key, algorithms));
    return this.run({ op: 'verify', jws, algorithms }, key).then((r) => r.verified!);
  }

  sign(signingInput: string, alg: string, key: KeyObject): Promise<string> {
    if (!this.lanes || this.closed) return Promise.resolve().then(() => signJwsInput(signingInput, alg, key));
    return this.run({ op: 'sign', input: signingInput, alg }, key).then((r) => r.signature!);
  }

  /** New jobs run inline from now on; the workers finish what they hold (up to `drainMs`), then stop. */
  async close(drainMs = 2000): Promise<void> {
    this.closed = true;
    await this.lanes?.close(drainMs);
  }

  private async run(work: Work, key: KeyObject): Promise<Reply> {
    let keyId = this.keyIds.get(key);
    if (keyId === undefined) this.keyIds.set(key, (keyId = this.nextKeyId++));
    const job = { id: this.nextId++, keyId, ...work } as Job;
    const reply = await this.lanes!.run({ id: job.id, job, key });
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply;
  }

  /** One turn's message to a worker; keys it lacks ride with their first job (after a `forget`, again). */
  private encode(queued: Queued[], keys: Set<number>): Message {
    const missing = new Set(queued.filter((q) => !keys.has(q.job.keyId)).map((q) => q.job.keyId));
    // Full: the worker forgets every key before this batch, and the batch brings the ones it needs.
    const forget = keys.size + missing.size > this.keysPerWorker;
    if (forget) keys.clear();
    const jobs = queued.map(({ job, key }) => {
      if (keys.has(job.keyId)) return job;
      keys.add(job.keyId);
      return { ...job, key };
    });
    return { forget, jobs };
  }
}

/* ------------------------------------------------------------------- worker side */

const lanePort = laneWorkerPort(__filename);
if (lanePort) {
  const port = lanePort;
  const keys = new Map<number, KeyObject>();
  port.on('message', ({ forget, jobs }: Message) => {
    if (forget) keys.clear();
    const replies: Reply[] = [];
    for (const job of jobs) {
      if (job.key) keys.set(job.keyId, job.key);
      const key = keys.get(job.keyId);
      try {
        if (!key) throw new Error(`key ${job.keyId} is not known to this worker`);
        replies.push(job.op === 'verify' ? { id: job.id, verified: verifyCompactJws(job.jws, key, job.algorithms) } : { id: job.id, signature: signJwsInput(job.input, job.alg, key) });
      } catch (e) {
        replies.push({ id: job.id, error: (e as Error)?.message ?? String(e) });
      }
    }
    port.postMessage(replies);
  });
}
