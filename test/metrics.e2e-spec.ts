import { spawnSync } from 'node:child_process';
import { TestService, startTestService } from './support/service';

/** /metrics as Prometheus's own linter reads it (promtool, Debian package `prometheus`). */
describe('GET /metrics', () => {
  let s: TestService;
  beforeAll(async () => {
    s = await startTestService();
  });
  afterAll(async () => s?.stop());

  it('passes `promtool check metrics` (names, types, help)', async () => {
    await s.api.get('/health/ready'); // some HTTP traffic, so request metrics have samples
    const res = await fetch(`${s.urls.operator}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE fleetguard_http_requests_total counter$/m);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error).toBeUndefined();
    expect({ status: check.status, problems: `${check.stdout}${check.stderr}`.trim() }).toEqual({ status: 0, problems: '' });
  });

  it('promtool does refuse a non-counter named *_total (the check can fail)', () => {
    const bad = '# HELP x_total a gauge\n# TYPE x_total gauge\nx_total 1\n';
    const check = spawnSync('promtool', ['check', 'metrics'], { input: bad, encoding: 'utf8' });
    expect(check.status).not.toBe(0);
  });
});
