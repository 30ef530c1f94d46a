import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';

/** One Prometheus registry for the process; modules register their instruments here. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'fleetguard_' });

/*
 * prom-client also exports three gauges named `*_total` (active handles, requests, resources),
 * a suffix Prometheus reserves for counters: `promtool check metrics` refuses them, so they are
 * dropped. Dropped too, for their cost: the active handles and resources by type (each scrape
 * made a JavaScript object of every socket, `process._getActiveHandles()`) and prom-client's
 * `process_open_fds` (each scrape listed /proc/self/fd). With 10,000 MQTT connections and the
 * connections bench scraping every second they took a fifth of the service's thread during a
 * reconnect storm. `fleetguard_process_open_fds` is kept, sampled every 10 s by the
 * file-descriptor watch (fd-watch.ts) instead of at each scrape; the connections are counted by
 * the broker's own gauges. `fleetguard_nodejs_active_requests` (libuv requests: few) stays.
 */
for (const what of ['handles', 'requests', 'resources']) metricsRegistry.removeSingleMetric(`fleetguard_nodejs_active_${what}_total`);
for (const name of ['nodejs_active_handles', 'nodejs_active_resources', 'process_open_fds']) metricsRegistry.removeSingleMetric(`fleetguard_${name}`);

export const httpRequests = new Counter({
  name: 'fleetguard_http_requests_total',
  help: 'HTTP requests by listener, method, route and status',
  labelNames: ['listener', 'method', 'route', 'status'] as const,
  registers: [metricsRegistry],
});

export const httpDuration = new Histogram({
  name: 'fleetguard_http_request_duration_seconds',
  help: 'HTTP request duration',
  labelNames: ['listener', 'method', 'route'] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  registers: [metricsRegistry],
});

export function counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
  return (metricsRegistry.getSingleMetric(name) as Counter<string>) ?? new Counter({ name, help, labelNames, registers: [metricsRegistry] });
}

export function gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
  return (metricsRegistry.getSingleMetric(name) as Gauge<string>) ?? new Gauge({ name, help, labelNames, registers: [metricsRegistry] });
}

export function histogram(name: string, help: string, labelNames: string[] = [], buckets?: number[]): Histogram<string> {
  return (metricsRegistry.getSingleMetric(name) as Histogram<string>) ?? new Histogram({ name, help, labelNames, registers: [metricsRegistry], ...(buckets ? { buckets } : {}) });
}
