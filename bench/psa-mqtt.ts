/**
 * PSA attestation over mTLS MQTT end to end (beside bench:attest): PsaDevices (apps/device-sim)
 * enrolled with their IAK, connected to the embedded broker; the service challenges each, the
 * device answers `{psaToken}`, the service records it, appraises it (reference values = the
 * MCUboot release), stores the result in PostgreSQL and publishes the EAR. Closed loop per device
 * for `--seconds`. Devices run in this process (they only sign; the service does the rest).
 * Baseline (same run, before the service starts): Node's raw ES256 verify rate on one thread.
 *
 *   npm run bench:psa (the pure core, then this one); alone: node dist/bench/psa-mqtt.js [--devices 20 --seconds 10]
 */
import 'reflect-metadata';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AttestationService } from '@fleetguard/attestation/nest';
import { PsaDevice, summarizeEar } from '../apps/device-sim/src';
import { productWithRelease, repoRoot, startBenchService } from './support/bench-service';
import { emit, machineInfo, numberArg } from './support/measure';

function rawVerifyPerSecond(): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.alloc(300, 7);
  const sig = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const deviceCount = numberArg('devices', 20);
  const seconds = numberArg('seconds', 10);
  const baseline = rawVerifyPerSecond();
  const s = await startBenchService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600' });
  const devices: PsaDevice[] = [];
  try {
    const fixture = await productWithRelease(s);
    const samples = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'firmware-samples', 'samples.json'), 'utf8'));
    const pub = fs.readFileSync(path.join(repoRoot(), 'firmware-samples', samples.keys['ec-p256'].public), 'utf8');
    const signerId = createHash('sha256').update(createPublicKey(pub).export({ type: 'spki', format: 'der' })).digest('hex');
    const tokens = await fixture.tokens(deviceCount);
    for (const token of tokens) {
      const d = new PsaDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, firmware: { version: fixture.profile.fw.version, imageHash: fixture.profile.fw.digest, signerId } });
      await d.enroll();
      devices.push(d);
    }
    const attestation = s.app.get(AttestationService);
    await Promise.all(devices.map((d) => d.connect()));
    // The connect challenge of each device: wait for its first result before measuring.
    await Promise.all(devices.map((d) => d.waitForResult(30_000, 0)));
    let results = 0;
    let failures = 0;
    let running = true;
    const started = performance.now();
    await Promise.all(
      devices.map(async (d) => {
        while (running) {
          const since = d.resultCount;
          const wait = d.waitForResult(30_000, since);
          await attestation.challengeOverMqtt(d.deviceId);
          const ear = await wait;
          if (!running) break;
          // Either EAR form (draft-04 `ear_status`, the default, or veraison/ear's `ear.status`).
          if (summarizeEar(ear).status === 'affirming') results++;
          else failures++;
          if (performance.now() - started >= seconds * 1000) running = false;
        }
      }),
    );
    const window = (performance.now() - started) / 1000;
    const perSecond = results / window;
    const out = { bench: 'psa-mqtt', devices: deviceCount, seconds: Number(window.toFixed(2)), affirming: results, notAffirming: failures, resultsPerSecond: Math.round(perSecond), baseline: 'raw ES256 verify, one thread', baselinePerSecond: Math.round(baseline), ratio: Number((perSecond / baseline).toFixed(3)), machine: machineInfo() };
    emit(out, `psa-mqtt: ${out.resultsPerSecond} PSA appraisals/s end to end over mTLS MQTT into PostgreSQL (${deviceCount} devices); raw ES256 verify ${out.baselinePerSecond}/s; ratio ${out.ratio}`);
  } finally {
    await Promise.all(devices.map((d) => d.close()));
    await s.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
