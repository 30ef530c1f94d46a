import { fdUsage, watchFileDescriptors } from './fd-watch';

describe('file descriptor watch', () => {
  it('reads this process\'s descriptors and limit from /proc', () => {
    const u = fdUsage();
    expect(u).not.toBeNull();
    expect(u!.open).toBeGreaterThan(2);
    expect(u!.limit).toBeGreaterThan(u!.open);
  });

  it('warns once on crossing 80 %, once on falling back, not on every sample', () => {
    const samples = [100, 790, 800, 900, 950, 850, 700, 500, 810];
    let i = 0;
    const warnings: string[] = [];
    const watch = watchFileDescriptors((m) => warnings.push(m), { everyMs: 3600_000, read: () => ({ open: samples[i++], limit: 1000 }) });
    while (i < samples.length) watch.sample();
    watch.stop();
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^open file descriptors at 80 % of the limit \(800 of 1000\)/);
    expect(warnings[1]).toMatch(/back to 70 %/);
    expect(warnings[2]).toMatch(/at 81 %/);
  });
});

describe('metrics of descriptors and handles', () => {
  it('the scrape does not list descriptors or handles (O(connections) per scrape); the count is the watch\'s sample', async () => {
    const { metricsRegistry } = await import('./metrics');
    for (const gone of ['fleetguard_nodejs_active_handles', 'fleetguard_nodejs_active_resources', 'fleetguard_nodejs_active_handles_total']) expect(metricsRegistry.getSingleMetric(gone)).toBeUndefined();
    const watch = watchFileDescriptors(() => undefined, { everyMs: 3600_000, read: () => ({ open: 1234, limit: Number.POSITIVE_INFINITY }) });
    watch.stop();
    const text = await metricsRegistry.metrics();
    expect(text).toMatch(/^fleetguard_process_open_fds 1234$/m);
  });
});
