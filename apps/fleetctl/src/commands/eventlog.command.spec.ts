import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { eventLogDirectory } from '@fleetguard/device-kit';
import { EXIT } from '../exit-codes';
import { startCannedApi } from '../testing/canned-api.server';
import { makeTempDir, runFleetctl } from '../testing/run-fleetctl';

const log = path.join(eventLogDirectory(), 'ubuntu-qemu.bin');

describe('fleetctl eventlog replay', () => {
  it('--json gives {events: [{pcr, type, digests}], pcrs: {<alg>: {<n>: hex}}}, the PCRs tpm2_eventlog prints', async () => {
    const run = await runFleetctl(['eventlog', 'replay', log, '--json']);
    expect(run.code).toBe(EXIT.ok);
    const out = JSON.parse(run.stdout);
    expect(out.events).toHaveLength(105);
    expect(out.events[0]).toEqual({ pcr: 0, type: 'EV_S_CRTM_VERSION', digests: { sha1: expect.stringMatching(/^[0-9a-f]{40}$/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const yaml = execFileSync('tpm2_eventlog', [log], { encoding: 'utf8' });
    const sha256Pcr7 = /sha256:\n(?:.*\n)*?\s+7\s+: 0x([0-9a-f]+)/.exec(yaml)![1];
    expect(out.pcrs.sha256['7']).toBe(sha256Pcr7);
  });

  it('prints a table and the PCRs for people; refuses a broken log with its reason', async () => {
    const text = await runFleetctl(['eventlog', 'replay', log]);
    expect(text.stdout).toMatch(/EV_EFI_BOOT_SERVICES_APPLICATION/);
    expect(text.stdout).toMatch(/shimx64\.efi/);
    expect(text.stdout).toMatch(/^sha256:$/m);
    const dir = makeTempDir();
    const cut = path.join(dir, 'cut.bin');
    fs.writeFileSync(cut, fs.readFileSync(log).subarray(0, 4000));
    const broken = await runFleetctl(['eventlog', 'replay', cut]);
    expect(broken.code).toBe(EXIT.refused);
    expect(broken.stderr).toMatch(/truncated: event \d+/);
  });
});

describe('fleetctl policy import-keylime', () => {
  it('checks the Keylime file locally, then PUTs it to the product', async () => {
    const api = await startCannedApi({ 'PUT /api/v1/products/p1/runtime-policy': { json: { productId: 'p1', paths: 1, excludes: 0 } } });
    try {
      const dir = makeTempDir();
      const good = path.join(dir, 'runtime.json');
      fs.writeFileSync(good, JSON.stringify({ meta: { version: 1 }, digests: { '/bin/a': ['ab'.repeat(32)] }, excludes: [] }));
      const env = { env: { FLEETCTL_URL: api.url, FLEETCTL_KEY: 'k' } };
      const run = await runFleetctl(['policy', 'import-keylime', 'runtime', good, '--product', 'p1', '--json'], env);
      expect(run.code).toBe(EXIT.ok);
      expect(api.requests[0].json.digests['/bin/a']).toHaveLength(1);
      const bad = path.join(dir, 'mb.json');
      fs.writeFileSync(bad, JSON.stringify({ scrtm_and_bios: 'no' }));
      const refused = await runFleetctl(['policy', 'import-keylime', 'measured-boot', bad, '--product', 'p1'], env);
      expect(refused.code).toBe(EXIT.refused);
      expect(refused.stderr).toMatch(/scrtm_and_bios/);
      expect(api.requests).toHaveLength(1);
    } finally {
      await api.close();
    }
  });
});
