/**
 * The simulated devices of the end-to-end benches (attest, scale), in a worker thread of the
 * bench process: enrolled and connected by apps/device-sim, each result, device error and
 * disconnect posted to the main thread; `{t: 'close'}` closes the fleet.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runFleet, type DeviceProfile } from '../../apps/device-sim/src';
import { currentThreadId, nowMs } from './measure';

/** What the main thread passes as the worker's data. */
export interface FleetInput {
  operatorUrl: string;
  deviceUrl: string;
  mqttUrl: string;
  tokens: string[];
  profile: DeviceProfile;
  count: number;
}

/** A result as a device received it (posted to the main thread with the others of its turn: `{t: 'results', results}`). */
export interface ResultMessage {
  t: 'result';
  i: number;
  nonce?: string;
  status: string;
  at: number;
}

/** Runs the fleet the worker data describes until the main thread asks it to close. */
export async function runFleetWorker(options: { reconnectPeriodMs: number }): Promise<void> {
  const input = workerData as FleetInput;
  const port = parentPort!;
  // One message per turn of this thread's loop, not per result: a message per result cost the
  // service's thread (which receives them) as much as a tenth of its time.
  let batch: ResultMessage[] = [];
  const post = () => {
    port.postMessage({ t: 'results', results: batch });
    batch = [];
  };
  const fleet = await runFleet({
    count: input.count,
    tokens: input.tokens,
    profile: input.profile,
    operatorUrl: input.operatorUrl,
    deviceUrl: input.deviceUrl,
    mqttUrl: input.mqttUrl,
    hardening: false,
    // The devices share the 2 cores with the service they load: jose's WebCrypto sign cost this
    // thread 4x node:crypto's one-shot (120 against 30 µs of CPU per ES256 signature).
    evidenceSigner: 'node:crypto',
    reconnectPeriodMs: options.reconnectPeriodMs,
    requestTimeoutMs: 60_000,
    concurrency: 16,
    onDevice: (device, i) => {
      device.on('result', (_ear, summary) => {
        if (batch.push({ t: 'result', i, nonce: summary.nonce, status: summary.status, at: nowMs() }) === 1) setImmediate(post);
      });
      device.on('device-error', (e) => port.postMessage({ t: 'device-error', i, message: e.message }));
      device.on('connection', (state) => {
        if (state === 'offline') port.postMessage({ t: 'disconnect', i });
      });
    },
  });
  port.on('message', (m: { t?: string }) => {
    if (m?.t === 'close') void fleet.close().then(() => port.postMessage({ t: 'closed' }));
  });
  port.postMessage({ t: 'ready', ids: fleet.devices.map((d) => d.deviceId), tid: currentThreadId() });
}
