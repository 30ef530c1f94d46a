/**
 * The load side of the end-to-end benches runs in a worker thread of the same process: its own
 * event loop (as remote clients have), so the service's event loop is not shared with the clients.
 * Messages are `{t: <type>, ...}`.
 */
import { Worker } from 'node:worker_threads';

export interface WorkerChannel {
  worker: Worker;
  /** The next message of `type` (rejects if the worker fails or exits first, or after `timeoutMs`). */
  next<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  /** Every message of `type`, as it arrives. */
  on<T = Record<string, unknown>>(type: string, listener: (m: T) => void): void;
  send(message: unknown): void;
  close(): Promise<void>;
}

export function startWorker(file: string, workerData: unknown): WorkerChannel {
  const worker = new Worker(file, { workerData });
  let failure: Error | undefined;
  const failWaiters = new Set<(e: Error) => void>();
  const failWith = (e: Error) => {
    failure ??= e;
    for (const f of failWaiters) f(failure);
  };
  worker.on('error', (e) => failWith(e));
  worker.on('exit', (code) => failWith(new Error(`the bench worker exited (code ${code})`)));
  const listeners = new Map<string, Array<(m: any) => void>>();
  worker.on('message', (m: { t?: string }) => {
    for (const l of listeners.get(m?.t ?? '') ?? []) l(m);
  });
  const on = (type: string, listener: (m: any) => void) => {
    const list = listeners.get(type) ?? [];
    list.push(listener);
    listeners.set(type, list);
  };
  const off = (type: string, listener: (m: any) => void) => {
    listeners.set(
      type,
      (listeners.get(type) ?? []).filter((l) => l !== listener),
    );
  };
  return {
    worker,
    on,
    send: (message) => worker.postMessage(message),
    next<T>(type: string, timeoutMs = 0) {
      return new Promise<T>((resolve, reject) => {
        if (failure) return reject(failure);
        let timer: NodeJS.Timeout | undefined;
        const done = () => {
          off(type, onMessage);
          failWaiters.delete(onFail);
          clearTimeout(timer);
        };
        const onMessage = (m: T) => {
          done();
          resolve(m);
        };
        const onFail = (e: Error) => {
          done();
          reject(e);
        };
        on(type, onMessage);
        failWaiters.add(onFail);
        if (timeoutMs > 0) timer = setTimeout(() => onFail(new Error(`no '${type}' from the bench worker within ${timeoutMs} ms`)), timeoutMs);
      });
    },
    async close() {
      worker.removeAllListeners('exit');
      worker.removeAllListeners('error');
      await worker.terminate();
    },
  };
}

/** In a worker: report an unexpected failure to the main thread (as an 'error' event) and stop. */
export function workerFailed(e: unknown): never {
  throw e instanceof Error ? e : new Error(String(e));
}
