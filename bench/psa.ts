/**
 * PSA token appraisal throughput of the pure attestation core, on one core: a token (ES256, two
 * software components) through appraisePsaToken (CBOR decode, COSE_Sign1 verify, claims, IAK
 * binding, nonce, lifecycle, components against reference values) with in-memory ports.
 * Same-run baseline: node:crypto ES256 verification alone of the same Sig_structure, the floor
 * any verifier pays. Run: npm run bench:psa [-- count]
 * Prints one JSON line and a one-line summary.
 */
import { createHash, randomBytes, verify as cryptoVerify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { appraisePsaToken, parseCoseSign1, psaInstanceIdOf, PsaAppraisalPorts, PsaReferenceValue, sigStructure } from '@fleetguard/attestation';
import { buildPsaToken, generateIak } from '@fleetguard/device-kit';
import { positionalArgs } from './support/measure';

async function main(): Promise<void> {
  const count = Number(positionalArgs().find((a) => /^\d+$/.test(a)) ?? 5000);
  const iak = generateIak();
  const sha = (s: string) => createHash('sha256').update(s).digest();
  const implementationId = sha('impl');
  const signer = sha('signer');
  const spe = sha('spe');
  const nspe = sha('nspe');
  const refs: PsaReferenceValue[] = [
    { source: 'CoRIM', kind: 'corim', implementationId, measurementType: 'SPE', version: '1.6.0', signerIds: [signer], measurementValue: spe, status: 'trusted' },
    { source: 'MCUboot release 0.1.0', kind: 'mcuboot', implementationId: null, measurementType: null, version: '0.1.0+0', signerIds: [signer], measurementValue: nspe, status: 'trusted', release: { version: '0.1.0+0', securityCounter: 1 } },
  ];
  const nonces = new Set<string>();
  const device = { deviceId: 'mcu', productId: 'p', certificateStatus: 'valid' as const, iak: { publicKey: iak.publicKey, instanceId: null, implementationId, source: 'enrollment' as const }, instanceId: null, implementationId: null };
  const ports: PsaAppraisalPorts = {
    findDevice: async () => device,
    findAttestKey: async () => null,
    consumeNonce: async (_d, n) => (nonces.delete(n) ? 'ok' : 'used'),
    referenceValues: async () => refs,
    implementationIds: async () => [implementationId],
  };
  const instanceId = psaInstanceIdOf(iak.publicKey);
  const WARMUP = 500;
  const tokens: Buffer[] = [];
  for (let i = 0; i < count + WARMUP; i++) {
    const nonce = randomBytes(32);
    nonces.add(nonce.toString('base64url'));
    tokens.push(
      buildPsaToken(
        {
          nonce,
          instanceId,
          implementationId,
          components: [
            { measurementType: 'SPE', measurementValue: spe, version: '1.6.0', signerId: signer },
            { measurementType: 'NSPE', measurementValue: nspe, version: '0.1.0', signerId: signer },
          ],
        },
        iak.privateKey,
      ),
    );
  }

  // Both loops are warmed up first (JIT), with tokens not counted afterwards.
  const warm = tokens.splice(0, WARMUP);
  for (const token of warm) await appraisePsaToken({ deviceId: 'mcu', token }, ports);
  // Baseline: ES256 verification of the same signed bytes, nothing else.
  const prepared = [...warm, ...tokens].map((t) => {
    const c = parseCoseSign1(t);
    return { tbs: sigStructure(c.protectedBytes, c.payload), sig: c.signature };
  });
  for (const p of prepared.splice(0, WARMUP)) cryptoVerify('sha256', p.tbs, { key: iak.publicKey, dsaEncoding: 'ieee-p1363' }, p.sig);
  // Interleaved rounds of 250, so that load from elsewhere on the machine hits both alike.
  let baselineMs = 0;
  let appraisalMs = 0;
  for (let at = 0; at < count; at += 250) {
    let t0 = performance.now();
    for (const p of prepared.slice(at, at + 250)) if (!cryptoVerify('sha256', p.tbs, { key: iak.publicKey, dsaEncoding: 'ieee-p1363' }, p.sig)) throw new Error('baseline verify failed');
    baselineMs += performance.now() - t0;
    t0 = performance.now();
    for (const token of tokens.slice(at, at + 250)) {
      const r = await appraisePsaToken({ deviceId: 'mcu', token }, ports);
      if (r.status !== 'affirming') throw new Error(`unexpected ${r.status}: ${r.reasons.join('; ')}`);
    }
    appraisalMs += performance.now() - t0;
  }
  const baselinePerSecond = count / (baselineMs / 1000);
  const perSecond = count / (appraisalMs / 1000);
  const out = { bench: 'psa', count, appraisalsPerSecond: Math.round(perSecond), baseline: 'node:crypto ES256 verify of the same Sig_structure', baselinePerSecond: Math.round(baselinePerSecond), ratio: Number((perSecond / baselinePerSecond).toFixed(3)) };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.stdout.write(`psa: ${out.appraisalsPerSecond} PSA token appraisals/s on one core; raw ES256 verify ${out.baselinePerSecond}/s; ratio ${out.ratio}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
