/**
 * Linux evidence over mTLS MQTT end to end (beside bench:attest): SimulatedDevices with the
 * `linux` option (apps/device-sim) boot the largest real TCG log of ../shared/data/eventlogs into
 * their TPM and answer each challenge with `boot.tcgEventLog` + a TPM2 quote of PCRs 0-9,14 in
 * the sha1 and sha256 banks; the service records the evidence, verifies the quote, replays every
 * quoted bank, compares with the golden state recorded through the API from the same log and a
 * measured-boot policy (Secure Boot required), stores the result in PostgreSQL and publishes the
 * EAR. Closed loop per device for `--seconds`. The TPM is the in-process software TPM of
 * device-sim (`tpm: 'software'`: the same TPMS_ATTEST and signature a TPM makes), so the devices
 * cost little and the service is what is measured; the swtpm path is in test/linux-attestation.
 * Baseline (same run, before the service starts): the pure core's parse + replay + golden +
 * policy of the same log on one thread (what bench:eventlog measures).
 *
 *   npm run bench:eventlog (the pure core, then this one); alone: node dist/bench/eventlog-mqtt.js [--devices 20 --seconds 10]
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { AttestationService } from '@fleetguard/attestation/nest';
import { compareWithGoldenState, evaluateMeasuredBootPolicy, parseMeasuredBootPolicy, parseTcgEventLog, recordGoldenBootState, replayTcgEventLog } from '@fleetguard/attestation';
import { realEventLogs } from '@fleetguard/device-kit';
import { SimulatedDevice, summarizeEar } from '../apps/device-sim/src';
import { productWithRelease, startBenchService } from './support/bench-service';
import { emit, machineInfo, numberArg } from './support/measure';

function pureCorePerSecond(bytes: Buffer): number {
  const golden = recordGoldenBootState(parseTcgEventLog(bytes));
  const policy = parseMeasuredBootPolicy({ secureBoot: 'required' });
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    const log = parseTcgEventLog(bytes);
    replayTcgEventLog(log);
    if (compareWithGoldenState(log, golden).length + evaluateMeasuredBootPolicy(log, policy).length) throw new Error('the known-good log should comply');
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const deviceCount = numberArg('devices', 20);
  const seconds = numberArg('seconds', 10);
  const largest = realEventLogs().reduce((a, b) => (b.bytes.length > a.bytes.length ? b : a));
  const baseline = pureCorePerSecond(largest.bytes);
  // The largest real log is ~45 KiB (~61 KiB in base64): above the default 64 KiB MQTT payload with the quote (README).
  const s = await startBenchService({ FLEETGUARD_ATTEST_INTERVAL_SECONDS: '3600', FLEETGUARD_MQTT_MAX_PAYLOAD: String(256 * 1024) });
  const devices: SimulatedDevice[] = [];
  try {
    const fixture = await productWithRelease(s);
    const key = fixture.manufacturer.key;
    const base = `/api/v1/products/${fixture.product.id}`;
    const golden = await s.api.request('POST', `${base}/firmware/${encodeURIComponent(fixture.profile.fw.version)}/reference-values/event-log`, { key, raw: largest.bytes, headers: { 'content-type': 'application/octet-stream' } });
    if (golden.status !== 200) throw new Error(`golden state: ${golden.status} ${JSON.stringify(golden.body)}`);
    const policy = await s.api.request('PUT', `${base}/measured-boot-policy`, { key, body: { secureBoot: 'required' } });
    if (policy.status !== 200) throw new Error(`measured-boot policy: ${policy.status} ${JSON.stringify(policy.body)}`);
    const tokens = await fixture.tokens(deviceCount);
    for (const token of tokens) {
      const d = new SimulatedDevice({ operatorUrl: s.urls.operator, deviceUrl: s.urls.device, mqttUrl: s.urls.mqtt, token, profile: fixture.profile, reconnectPeriodMs: 0, hardening: false, linux: { eventLog: largest.bytes, tpm: 'software' } });
      await d.enroll();
      devices.push(d);
    }
    const attestation = s.app.get(AttestationService);
    await Promise.all(devices.map((d) => d.connect()));
    // The connect challenge of each device: its first result must be affirming before measuring.
    const firsts = await Promise.all(devices.map((d) => d.waitForResult(180_000, { since: 0 })));
    const statusOf = (ear: string) => summarizeEar(ear).status;
    const bad = firsts.map(statusOf).filter((st) => st !== 'affirming');
    if (bad.length) throw new Error(`${bad.length} devices were not affirming before the run (${bad[0]})`);
    let results = 0;
    let failures = 0;
    let running = true;
    const started = performance.now();
    await Promise.all(
      devices.map(async (d) => {
        while (running) {
          const wait = d.waitForResult(60_000, { since: d.results.length });
          await attestation.challengeOverMqtt(d.deviceId);
          const ear = await wait;
          if (!running) break;
          if (statusOf(ear) === 'affirming') results++;
          else failures++;
          if (performance.now() - started >= seconds * 1000) running = false;
        }
      }),
    );
    const window = (performance.now() - started) / 1000;
    const perSecond = results / window;
    const out = {
      bench: 'eventlog-mqtt',
      log: largest.name,
      bytes: largest.bytes.length,
      devices: deviceCount,
      seconds: Number(window.toFixed(2)),
      affirming: results,
      notAffirming: failures,
      resultsPerSecond: Math.round(perSecond),
      baseline: 'pure core parse + replay + golden + policy of the same log, one thread',
      baselinePerSecond: Math.round(baseline),
      ratio: Number((perSecond / baseline).toFixed(3)),
      machine: machineInfo(),
    };
    emit(out, `eventlog-mqtt: ${out.resultsPerSecond} TCG-log + quote appraisals/s end to end over mTLS MQTT into PostgreSQL (${deviceCount} devices, ${largest.name}); pure core ${out.baselinePerSecond}/s; ratio ${out.ratio}`);
  } finally {
    await Promise.all(devices.map((d) => d.close()));
    await s.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
