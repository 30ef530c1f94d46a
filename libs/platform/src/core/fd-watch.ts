import * as fs from 'node:fs';
import { gauge } from './metrics';

const openFds = gauge('fleetguard_open_fds_ratio', 'Open file descriptors as a share of the soft limit (sockets of MQTT, HTTP, PostgreSQL and webhooks share it)');
/** prom-client's own listed /proc/self/fd at every scrape (see metrics.ts); this one is sampled with the ratio. */
const openFdCount = gauge('fleetguard_process_open_fds', 'Number of open file descriptors (sampled every 10 s)');

export interface FdUsage {
  open: number;
  limit: number;
}

/** This process's open descriptors and soft limit, from /proc (Linux); null where /proc is not there. */
export function fdUsage(): FdUsage | null {
  try {
    const open = fs.readdirSync('/proc/self/fd').length;
    const limits = fs.readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(limits);
    const limit = !m || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
    return { open, limit };
  } catch {
    return null;
  }
}

/**
 * Watches descriptor use against the limit: warns once when it crosses `threshold` (80 %) and
 * once more when it falls back under it, so reaching the file limit (refused accepts, failed
 * database connections) is never silent, and a sustained high level does not flood the log.
 * Returns the stop function and the sampler (the timer calls it; tests call it directly).
 */
export function watchFileDescriptors(
  warn: (message: string) => void,
  opts: { everyMs?: number; threshold?: number; read?: () => FdUsage | null } = {},
): { stop: () => void; sample: () => void } {
  const threshold = opts.threshold ?? 0.8;
  const read = opts.read ?? fdUsage;
  let high = false;
  const check = () => {
    const u = read();
    if (!u) return;
    openFdCount.set(u.open);
    if (!Number.isFinite(u.limit) || u.limit <= 0) return;
    const ratio = u.open / u.limit;
    openFds.set(ratio);
    if (!high && ratio >= threshold) {
      high = true;
      warn(`open file descriptors at ${Math.round(ratio * 100)} % of the limit (${u.open} of ${u.limit}): new connections will soon be refused; raise the limit (ulimit -n / LimitNOFILE) or add an instance`);
    } else if (high && ratio < threshold * 0.9) {
      high = false;
      warn(`open file descriptors back to ${Math.round(ratio * 100)} % of the limit (${u.open} of ${u.limit})`);
    }
  };
  check();
  const timer = setInterval(check, opts.everyMs ?? 10_000);
  timer.unref();
  return { stop: () => clearInterval(timer), sample: check };
}
