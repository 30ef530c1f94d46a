/**
 * Appraisal throughput of the attestation core: evidence (ES256 EAT, 5 boot events, optionally a
 * software TPM quote) through appraiseEvidence with in-memory ports, then signEar.
 * Run: npm run build && node dist/bench/attest-appraisal.js [count] [--tpm]
 * Prints one JSON line: evidence/s and per-evidence latency percentiles (ms).
 */
import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { appraiseEvidence, createVerifierKey, decodeNonce, replayEventLog, signEar } from '@fleetguard/attestation';
import { buildSoftwareQuote } from '@fleetguard/device-kit';
import { createAppraisalScenario } from '@fleetguard/attestation/testing';
import { flagArg, positionalArgs } from './support/measure';

async function main(): Promise<void> {
  const count = Number(positionalArgs().find((a) => /^\d+$/.test(a)) ?? 2000);
  const withTpm = flagArg('tpm');
  const s = createAppraisalScenario();
  const ak = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (withTpm) s.device.akPublicKey = ak.publicKey;
  const verifierKey = await createVerifierKey();
  const pcrs = replayEventLog(s.events);

  const evidence: string[] = [];
  for (let i = 0; i < count; i++) {
    const nonce = s.nonces.issue(s.deviceId, 3600);
    const tpm = withTpm ? buildSoftwareQuote({ akPrivateKey: ak.privateKey, extraData: decodeNonce(nonce), pcrs }) : undefined;
    evidence.push(await s.evidence({ nonce, tpm }));
  }

  const latencies: number[] = [];
  const started = performance.now();
  for (const e of evidence) {
    const t0 = performance.now();
    const result = await appraiseEvidence({ deviceId: s.deviceId, evidence: e }, s.ports);
    if (result.status !== 'affirming') throw new Error(`unexpected ${result.status}: ${result.reasons.join('; ')}`);
    await signEar(result, { verifierKey, verifierId: { build: 'bench', developer: 'fleetguard' }, nonce: result.nonce, deviceId: s.deviceId });
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(3));
  process.stdout.write(
    JSON.stringify({ bench: 'attest-appraisal', tpm: withTpm, count, perSecond: Math.round(count / seconds), p50: pct(50), p99: pct(99), max: pct(100) }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
