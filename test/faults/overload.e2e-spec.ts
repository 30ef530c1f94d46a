import * as http from 'node:http';
import mqtt from 'mqtt';
import { buildEvidence } from '@fleetguard/device-kit';
import { spawnBuiltService } from '../support/service';
import { ADMIN_KEY } from '../support/service';
import { enrollFleet, expectExactlyOneGoodResult, faultEnv, postJson, rssMiB, sha256, sleep, faultWorkspace } from './support/evidence-load';

jest.setTimeout(420_000);

function timedGet(url: string): Promise<{ status: number; ms: number }> {
  const t = Date.now();
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - t }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: Date.now() - t }));
  });
}

/**
 * Overload far past what a deliberately tiny appraisal queue (8 places, 2 at a time, 50 ms of waiting for a place) takes:
 * HTTP evidence beyond it gets 503 with Retry-After and succeeds when sent again; MQTT evidence
 * beyond it is not acknowledged (counted as shed); every acknowledged or answered message ends
 * with exactly one affirming result; liveness answers 200 throughout and readiness always answers (503 if its write probe is slower than 800 ms), 95 % within a second as measured from the loaded test process.
 */
describe('fault: overload', () => {
  const { dir, w, database } = faultWorkspace('fg-fault-over-');

  it('sheds what it cannot take, loses nothing it took, and keeps answering health checks', async () => {
    const db = await database();
    const svc = await spawnBuiltService(faultEnv(dir, { ...db, FLEETGUARD_APPRAISAL_QUEUE_MAX: '8', FLEETGUARD_APPRAISAL_CONCURRENCY: '2', FLEETGUARD_APPRAISAL_ADMISSION_WAIT_MS: '50' }));
    try {
      const { fixture, devices } = await enrollFleet(svc.urls, w, 4);
      const make = async (d: (typeof devices)[number]) => {
        const c = await postJson(`${svc.urls.device}/attestation/challenge`, d.tls, {});
        expect(c.status).toBe(200);
        return buildEvidence({ deviceKey: d.tls.key, deviceId: d.deviceId, nonce: c.body.nonce, fw: fixture.profile.fw, events: fixture.profile.events });
      };
      const [httpDevice, ...mqttDevices] = devices;
      const many = async (d: (typeof devices)[number]) => {
        const list: string[] = [];
        for (let i = 0; i < 40; i++) list.push(await make(d));
        return list;
      };
      const httpEvidence = await many(httpDevice);
      const mqttEvidence = await Promise.all(mqttDevices.map(async (d) => ({ d, list: await many(d) })));

      const health: Array<{ status: number; ms: number; probe: 'live' | 'ready' }> = [];
      let probing = true;
      const prober = (async () => {
        while (probing) {
          health.push({ ...(await timedGet(`${svc.urls.operator}/health/live`)), probe: 'live' }, { ...(await timedGet(`${svc.urls.operator}/health/ready`)), probe: 'ready' });
          await sleep(100);
        }
      })();

      // MQTT: all at once on three devices; an unacknowledged message is sent again on a new connection.
      const acked: string[] = [];
      const mqttDone = Promise.allSettled(
        mqttEvidence.map(async ({ d, list }) => {
          let pending = list;
          for (const until = Date.now() + 150_000; Date.now() < until && pending.length; ) {
            const client = mqtt.connect(svc.urls.mqtt, { ...d.tls, clientId: d.deviceId, reconnectPeriod: 0, protocolVersion: 4 });
            client.on('error', () => undefined);
            await new Promise<void>((r) => client.once('connect', () => r()).once('close', () => r()));
            // The broker closes the connection instead of acknowledging a message it sheds.
            const closed = new Promise<boolean>((r) => client.once('close', () => r(false)));
            const outcome = await Promise.all(
              pending.map((e) =>
                Promise.race([client.publishAsync(`fleet/v1/devices/${d.deviceId}/evidence`, JSON.stringify({ evidence: e }), { qos: 1 }).then(() => true), closed, sleep(5000).then(() => false)]).catch(() => false),
              ),
            );
            client.end(true);
            for (const [i, ok] of outcome.entries()) if (ok) acked.push(sha256(pending[i]));
            pending = pending.filter((_, i) => !outcome[i]);
            if (pending.length) await sleep(300);
          }
        }),
      );
      // HTTP: all at once; a 503 carries Retry-After and the same evidence is sent again.
      let refused503 = 0;
      let retryAfterSeen = true;
      const answered: string[] = [];
      const badAnswers: string[] = [];
      const httpDone = Promise.allSettled(
        httpEvidence.map(async (e) => {
          for (const until = Date.now() + 150_000; Date.now() < until; ) {
            const r = await postJson(`${svc.urls.device}/attestation/evidence`, httpDevice.tls, { evidence: e }, 10_000).catch(() => ({ status: 0, body: null, headers: {} as Record<string, unknown> }));
            if (r.status === 200) {
              // Collected, asserted after every loop has ended (an assertion thrown here would end
              // the test while the MQTT loops still run).
              if (r.body.status !== 'affirming') badAnswers.push(`${r.body.status}: ${r.body.reasons}`);
              answered.push(sha256(e));
              return;
            }
            if (r.status === 503) {
              refused503++;
              if (!r.headers['retry-after']) retryAfterSeen = false;
            }
            await sleep(200 + Math.random() * 300);
          }
        }),
      );
      await Promise.allSettled([httpDone, mqttDone]);
      probing = false;
      await prober;
      expect(badAnswers).toEqual([]);

      const metrics = (await new Promise<string>((resolve) => http.get(`${svc.urls.operator}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }, (res) => { let t = ''; res.on('data', (c) => (t += c)); res.on('end', () => resolve(t)); }))) as string;
      const shed = (channel: string) => Number(new RegExp(`fleetguard_evidence_shed_total\\{channel="${channel}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
      process.stdout.write(`overload: http answered ${answered.length}/40 (503 x${refused503}), mqtt acked ${acked.length}/120, shed mqtt ${shed('mqtt')} http ${shed('http')}, slowest health ${Math.max(...health.map((h) => h.ms))} ms, rss ${rssMiB(svc.proc.pid!).toFixed(0)} MiB\n`);
      expect(answered).toHaveLength(40);
      expect(acked).toHaveLength(120);
      // The bound is strict (a place is taken before the grouped insert), and MQTT evidence waits
      // 50 ms for a place here (FLEETGUARD_APPRAISAL_ADMISSION_WAIT_MS) before it is shed: each
      // round a pipelining device gets the places that free up, and those are acknowledged before
      // the connection closes over the rest. Whether HTTP also found the queue full depends on
      // arrival order; every 503 that did happen carried Retry-After and was counted.
      expect(retryAfterSeen).toBe(true);
      expect(shed('mqtt')).toBeGreaterThan(0);
      expect(shed('http')).toBe(refused503);
      // Measured from this (busy) test process on a shared 2-core machine: liveness always 200;
      // readiness always answers (200, or 503 when its write did not finish within 800 ms: the
      // truth about a saturated pool), never hangs; 95 % of all probes within a second.
      expect(health.filter((h) => h.probe === 'live' && h.status !== 200)).toEqual([]);
      expect(health.filter((h) => h.status !== 200 && h.status !== 503)).toEqual([]);
      const sorted = health.map((h) => h.ms).sort((a, b) => a - b);
      expect(sorted[Math.floor(sorted.length * 0.95)]).toBeLessThan(1000);
      await expectExactlyOneGoodResult(svc.urls.operator, fixture.manufacturer.key, devices.map((d) => d.deviceId), [...acked, ...answered], 30_000);
      // RSS counts garbage V8 has not collected yet and PGlite's WASM heap (which never shrinks):
      // 568 MiB alone, 951 MiB once beside another suite, for the same 160 messages. The queue
      // bound itself is asserted by the shed counts above; this only catches unbounded growth.
      expect(rssMiB(svc.proc.pid!)).toBeLessThan(1200);
    } finally {
      await svc.kill();
    }
  });
});
