import { MessagePort, Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

/** Marks a thread WorkerLanes started for one file (workerData), so that file's worker side answers only there. */
const LANE_FILE = 'fleetguardWorkerLaneFile';

/**
 * The port a pool's worker side listens on: the parent's, when this thread is a worker WorkerLanes
 * started for `file`; null anywhere else, including other worker threads that import the file (a
 * bench's or an embedder's), whose messages are not the pool's.
 */
export function laneWorkerPort(file: string): MessagePort | null {
  if (isMainThread || !parentPort) return null;
  return (workerData as Record<string, unknown> | null)?.[LANE_FILE] === file ? parentPort : null;
}

/**
 * `bytes` as a message between threads should carry them: its own bytes only. A message carries a
 * typed array's whole ArrayBuffer, and a small Buffer (Buffer.from, allocUnsafe, a base64 decode,
 * Buffer.concat) is a view into Node's shared 8 KiB pool: sent as it is, each would copy, clone
 * and allocate 8 KiB on both threads (issue 18). A view that is its whole buffer is returned as it is.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** One worker and what it holds: the jobs it has not answered, this turn's outbox, and the pool's own per-worker state. */
interface Lane<Q, R, S> {
  worker: Worker;
  pending: Map<number, { resolve: (r: R) => void; reject: (e: unknown) => void }>;
  outbox: Q[];
  state: S;
}

export interface WorkerLanesOptions<Q, S> {
  /** The message that carries one turn's jobs to a worker (the jobs themselves, or more around them). */
  encode(queued: Q[], state: S): unknown;
  /** Per-worker state a pool keeps beside its jobs (e.g. which keys that worker holds); fresh for a replacement worker. */
  newState(): S;
}

/**
 * Worker threads that run one file's jobs off the event loop, the mechanism the CSR checks and the
 * appraisal's signatures share. A job goes to the worker with the fewest unanswered; the jobs of
 * one turn of the loop go to a worker in one message (`encode`) and it answers with one array of
 * replies, each naming its job's `id` (a message between threads costs about what a check or a
 * signature does). A worker that dies fails the jobs it held and is replaced. `close` lets the
 * workers finish what they hold for a while, then stops them and fails the rest: nothing waits
 * for an answer that cannot come.
 */
export class WorkerLanes<Q extends { id: number }, R extends { id: number }, S = undefined> {
  private readonly lanes: Array<Lane<Q, R, S>> = [];
  private closed = false;

  constructor(
    private readonly file: string,
    size: number,
    private readonly options: WorkerLanesOptions<Q, S>,
  ) {
    for (let i = 0; i < size; i++) this.lanes.push(this.startLane());
  }

  /** Queues `job` on the least busy worker; settles with that worker's reply to it. */
  run(job: Q): Promise<R> {
    const lane = this.lanes.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    return new Promise<R>((resolve, reject) => {
      lane.pending.set(job.id, { resolve, reject });
      if (lane.outbox.push(job) === 1) setImmediate(() => this.post(lane));
    });
  }

  /** The workers finish what they hold (up to `drainMs`), then stop; what they still held fails. */
  async close(drainMs: number): Promise<void> {
    this.closed = true;
    const until = Date.now() + drainMs;
    while (this.lanes.some((l) => l.pending.size > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
    for (const lane of this.lanes) this.failAll(lane, new Error('the workers stopped'));
  }

  private post(lane: Lane<Q, R, S>): void {
    const queued = lane.outbox;
    lane.outbox = [];
    if (queued.length) lane.worker.postMessage(this.options.encode(queued, lane.state));
  }

  private failAll(lane: Lane<Q, R, S>, err: unknown): void {
    for (const w of lane.pending.values()) w.reject(err);
    lane.pending.clear();
    lane.outbox = [];
  }

  private startLane(): Lane<Q, R, S> {
    const worker = new Worker(this.file, { workerData: { [LANE_FILE]: this.file } });
    worker.unref();
    const lane: Lane<Q, R, S> = { worker, pending: new Map(), outbox: [], state: this.options.newState() };
    worker.on('message', (replies: R[]) => {
      for (const reply of replies) {
        const waiter = lane.pending.get(reply.id);
        if (!waiter) continue;
        lane.pending.delete(reply.id);
        waiter.resolve(reply);
      }
    });
    worker.on('error', (err) => {
      this.failAll(lane, err);
      if (this.closed) return;
      const i = this.lanes.indexOf(lane);
      if (i >= 0) this.lanes[i] = this.startLane();
    });
    return lane;
  }
}
