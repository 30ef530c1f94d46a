/**
 * A fleet of simulated devices for the demo and load runs: N devices with a mix of behaviours,
 * enrolled and connected with bounded concurrency.
 */
import { fetchCaChain } from './device-api.client';
import { DeviceBehaviour } from './evidence.behaviour';
import { SimulatedDevice, SimulatedDeviceOptions } from './simulated-device';

/** Relative weights of behaviours (e.g. `{good: 90, tampered: 5, rollback: 3, weak: 2}`); apportioned to `count`. */
export interface FleetMix {
  good?: number;
  tampered?: number;
  rollback?: number;
  weak?: number;
  wrongNonce?: number;
  wrongKey?: number;
  silent?: number;
}

export const FLEET_MIX_BEHAVIOURS: Record<keyof FleetMix, DeviceBehaviour> = {
  good: 'good',
  tampered: 'tampered-component',
  rollback: 'rollback',
  weak: 'weak-config',
  wrongNonce: 'wrong-nonce',
  wrongKey: 'wrong-key',
  silent: 'silent',
};

export interface RunFleetOptions extends Omit<SimulatedDeviceOptions, 'token' | 'behaviour'> {
  count: number;
  /** Default `{good: 1}`. */
  mix?: FleetMix;
  /** One single-use enrollment token per device (at least `count`). */
  tokens: readonly string[];
  /** Devices enrolling/connecting at once. Default 16. */
  concurrency?: number;
  /** Connect each device after enrolling it. Default true. */
  connect?: boolean;
  /**
   * Keep going when a device fails to enroll or connect, and report it in `failures`. Default
   * false: the first failure closes every device and runFleet rejects.
   */
  allowFailures?: boolean;
  /** Called for each device before it enrolls (attach listeners here, to see the result of the challenge on connect). */
  onDevice?: (device: SimulatedDevice, index: number) => void;
  onProgress?: (progress: { done: number; failed: number; total: number }) => void;
  /** Aborting stops starting devices, closes those started and rejects. */
  signal?: AbortSignal;
}

export interface FleetFailure {
  index: number;
  behaviour: DeviceBehaviour;
  error: Error;
}

export interface Fleet {
  /** Devices that enrolled (and connected), in plan order. */
  devices: SimulatedDevice[];
  failures: FleetFailure[];
  /** The behaviour of each planned device, index = plan position. */
  plan: DeviceBehaviour[];
  byBehaviour(behaviour: DeviceBehaviour): SimulatedDevice[];
  close(): Promise<void>;
}

/**
 * Behaviours for `count` devices: largest-remainder apportionment of the weights, spread evenly
 * through the fleet (so a partial run still has the mix). Deterministic.
 */
export function planFleet(count: number, mix: FleetMix = { good: 1 }): DeviceBehaviour[] {
  if (!Number.isInteger(count) || count < 0) throw new Error('count must be a non-negative integer');
  const entries = (Object.keys(FLEET_MIX_BEHAVIOURS) as (keyof FleetMix)[])
    .map((k) => [k, mix[k] ?? 0] as const)
    .filter(([, w]) => {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new Error('mix weights must be non-negative numbers');
      return w > 0;
    });
  for (const k of Object.keys(mix)) {
    if (!(k in FLEET_MIX_BEHAVIOURS)) throw new Error(`unknown mix key '${k}' (one of ${Object.keys(FLEET_MIX_BEHAVIOURS).join(', ')})`);
  }
  const total = entries.reduce((s, [, w]) => s + w, 0);
  if (count > 0 && total === 0) throw new Error('the mix needs at least one positive weight');
  const quotas = entries.map(([k, w]) => ({ k, exact: (w / total) * count, n: Math.floor((w / total) * count) }));
  let left = count - quotas.reduce((s, q) => s + q.n, 0);
  for (const q of [...quotas].sort((a, b) => b.exact - b.n - (a.exact - a.n))) {
    if (left-- <= 0) break;
    q.n++;
  }
  const slots: { at: number; behaviour: DeviceBehaviour }[] = [];
  for (const q of quotas) {
    for (let i = 0; i < q.n; i++) slots.push({ at: (i + 0.5) / q.n, behaviour: FLEET_MIX_BEHAVIOURS[q.k] });
  }
  return slots.sort((a, b) => a.at - b.at).map((s) => s.behaviour);
}

/** Enrolls (and connects) `count` devices, at most `concurrency` at a time. */
export async function runFleet(options: RunFleetOptions): Promise<Fleet> {
  const { count, mix, tokens, concurrency = 16, connect = true, allowFailures = false, onDevice, onProgress, signal, ...deviceOptions } = options;
  const plan = planFleet(count, mix);
  if (tokens.length < count) throw new Error(`runFleet needs ${count} enrollment tokens, got ${tokens.length}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('concurrency must be a positive integer');
  if (deviceOptions.tpm?.mode === 'swtpm' && deviceOptions.tpm.driver && count > 1) {
    throw new Error('a fleet cannot share one swtpm driver (PCRs are per device): use {mode: "swtpm"} to give each device its own');
  }
  signal?.throwIfAborted();
  const caPem = deviceOptions.caPem ?? (count > 0 ? await fetchCaChain(deviceOptions.operatorUrl, deviceOptions.requestTimeoutMs) : undefined);

  const slots: (SimulatedDevice | undefined)[] = new Array(count);
  const started: SimulatedDevice[] = [];
  const failures: FleetFailure[] = [];
  let next = 0;
  let done = 0;
  let stop: Error | undefined;

  const worker = async () => {
    while (!stop && next < count) {
      if (signal?.aborted) {
        stop = new Error('fleet start aborted');
        break;
      }
      const index = next++;
      const behaviour = plan[index];
      let device: SimulatedDevice | undefined;
      try {
        device = new SimulatedDevice({ ...deviceOptions, caPem, token: tokens[index], behaviour });
        started.push(device);
        onDevice?.(device, index);
        await device.enroll();
        if (connect) await device.connect();
        slots[index] = device;
        done++;
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        failures.push({ index, behaviour, error });
        await device?.close();
        if (!allowFailures) stop ??= new Error(`device ${index} (${behaviour}) failed: ${error.message}`, { cause: error });
      }
      onProgress?.({ done, failed: failures.length, total: count });
    }
  };

  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (stop) {
    await Promise.allSettled(started.map((d) => d.close()));
    throw stop;
  }
  const devices = slots.filter((d): d is SimulatedDevice => !!d);
  return {
    devices,
    failures,
    plan,
    byBehaviour: (behaviour) => devices.filter((d) => d.behaviour === behaviour),
    close: async () => {
      await Promise.allSettled(devices.map((d) => d.close()));
    },
  };
}
