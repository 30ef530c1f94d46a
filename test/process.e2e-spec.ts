import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Api, spawnBuiltService, ephemeralEnv } from './support/service';

// Each test boots the built service more than once: generous limits for a loaded machine.
jest.setTimeout(240_000);

/** The built service started as a separate process, the way the README starts it. */

describe('the built service as a process', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-proc-'));
  const env = {
    ...ephemeralEnv(dir),
    FLEETGUARD_LOG_LEVEL: 'info',
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts on the embedded defaults, prints the admin key once, and keeps its data across restarts', async () => {
    const first = await spawnBuiltService(env);
    try {
      const m = /Fleetguard admin API key \(shown once, store it now\):\s+(\S+)/.exec(first.output());
      expect(m).not.toBeNull();
      const key = m![1];
      const api = new Api(first.urls.operator);
      expect((await api.get('/health/ready')).status).toBe(200);
      const org = await api.post('/api/v1/organizations', { name: 'Persisted Org', kind: 'manufacturer' }, key);
      expect(org.status).toBe(201);

      // A second instance on the same data directory is refused, not let in to corrupt it.
      const second = spawnSync(process.execPath, [path.resolve(__dirname, '../dist/apps/fleet-server/src/main.js')], {
        env: { PATH: process.env.PATH, ...env },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(second.status).not.toBe(0);
      expect(second.stderr).toMatch(/in use by process/);

      expect(await first.kill('SIGTERM')).toBe(0);
      // stdout is the JSON log stream: every line parses, and carries a msg (the human banner is on stderr).
      const lines = first.stdout().split('\n').filter((l) => l.length > 0);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        let parsed: unknown;
        expect(() => (parsed = JSON.parse(line))).not.toThrow();
        expect({ line, msg: typeof (parsed as { msg?: unknown }).msg }).toEqual({ line, msg: 'string' });
      }
      expect(first.stdout()).not.toMatch(/admin API key/);

      const again = await spawnBuiltService(env);
      try {
        expect(again.output()).not.toMatch(/admin API key/);
        const api2 = new Api(again.urls.operator);
        const orgs = await api2.get('/api/v1/organizations', key);
        expect(orgs.body.map((o: { name: string }) => o.name)).toContain('Persisted Org');
      } finally {
        await again.kill();
      }
    } finally {
      await first.kill();
    }
  });

  it.each([
    ['FLEETGUARD_HTTP_PORT', 'eighty'],
    ['FLEETGUARD_MQTT_PORT', '99999'],
    ['FLEETGUARD_NOT_A_SETTING', '1'],
    ['DATABASE_URL', 'mysql://localhost/x'],
  ])('refuses to start with %s=%s and names it', (name, value) => {
    const r = spawnSync(process.execPath, [path.resolve(__dirname, '../dist/apps/fleet-server/src/main.js')], {
      env: { PATH: process.env.PATH, ...env, [name]: value },
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(name);
  });
});
