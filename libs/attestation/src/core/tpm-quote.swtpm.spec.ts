import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appraiseEvidence } from './appraisal.pipeline';
import { replayEventLog } from './event-log.replay';
import { decodeNonce, newNonce } from './nonce';
import { sampleBootEvents, sha256Hex, SwtpmAk, SwtpmDriver } from '@fleetguard/device-kit';
import { createAppraisalScenario } from './testing/appraisal.fixture';
import { parseTpmsAttest, parseTpmtSignature } from './tpm-attest.parser';
import { verifyTpmQuote } from './tpm-quote.verifier';

/**
 * Real TPM 2.0 quotes from swtpm + tpm2-tools (Debian: swtpm swtpm-tools tpm2-tools).
 * Skipped only when `swtpm` is not on PATH; if swtpm is there but tpm2-tools is not, it fails.
 */
const hasSwtpm = spawnSync('sh', ['-c', 'command -v swtpm'], { stdio: 'ignore' }).status === 0;
const describeTpm = hasSwtpm ? describe : describe.skip;
if (!hasSwtpm) {
  // Said once per run so a skipped real-TPM suite is never mistaken for a passing one.
  process.stderr.write('tpm-quote.swtpm.spec: SKIPPED, swtpm is not on PATH (apt-get install swtpm swtpm-tools tpm2-tools)\n');
}
const title = hasSwtpm
  ? 'real TPM quotes (swtpm + tpm2-tools)'
  : 'real TPM quotes: SKIPPED because swtpm is not on PATH (apt-get install swtpm swtpm-tools tpm2-tools)';

describeTpm(title, () => {
  const events = sampleBootEvents();
  const quoted = [0, 2, 4, 7];
  let tpm: SwtpmDriver;
  let ak: SwtpmAk;

  beforeAll(async () => {
    tpm = await SwtpmDriver.start();
    ak = await tpm.createAk('ak');
    await tpm.extendEvents(events);
  }, 60_000);

  afterAll(async () => {
    await tpm?.stop();
  });

  it('the TPM PCRs equal the event-log replay', async () => {
    expect(await tpm.readPcrs(quoted)).toEqual(replayEventLog(events));
  });

  it('a matching quote (TPMT_SIGNATURE in tpm2_quote default format) verifies', async () => {
    const nonce = decodeNonce(newNonce(60).nonce);
    const q = await tpm.quote(ak, quoted, nonce);
    expect(parseTpmtSignature(q.signature).sigAlg).toBe('ecdsa');
    expect(parseTpmsAttest(q.quote).extraData.equals(nonce)).toBe(true);
    const r = verifyTpmQuote({ ...q, akPublicKey: ak.publicKeyPem, expectedNonce: nonce, pcrs: replayEventLog(events), requiredPcrs: quoted });
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.quotedPcrs).toEqual(quoted);
  });

  it('evidence carrying the real quote is affirming through the whole pipeline', async () => {
    const s = createAppraisalScenario();
    s.device.akPublicKey = ak.publicKeyPem;
    const nonce = s.nonces.issue(s.deviceId);
    const tpmQuote = await tpm.quote(ak, quoted, decodeNonce(nonce));
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ nonce, tpm: tpmQuote }) }, s.ports);
    expect(r.reasons).toEqual([]);
    expect(r.status).toBe('affirming');
  });

  it('a quote over another nonce fails, naming the nonce', async () => {
    const s = createAppraisalScenario();
    s.device.akPublicKey = ak.publicKeyPem;
    const nonce = s.nonces.issue(s.deviceId);
    const stale = await tpm.quote(ak, quoted, decodeNonce(newNonce(60).nonce));
    expect(verifyTpmQuote({ ...stale, akPublicKey: ak.publicKeyPem, expectedNonce: decodeNonce(nonce), pcrs: replayEventLog(events) }).failures.map((f) => f.code)).toEqual([
      'tpm-nonce-mismatch',
    ]);
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ nonce, tpm: stale }) }, s.ports);
    expect(r.status).toBe('contraindicated');
    expect(r.reasons).toEqual([expect.stringMatching(/TPM quote extraData [0-9a-f]{64} is not the nonce of this challenge/)]);
  });

  it('a quote signed by another AK fails, naming the signature', async () => {
    const other = await tpm.createAk('ak-other');
    expect(other.publicKeyPem).not.toBe(ak.publicKeyPem);
    const nonce = decodeNonce(newNonce(60).nonce);
    const q = await tpm.quote(other, quoted, nonce);
    const r = verifyTpmQuote({ ...q, akPublicKey: ak.publicKeyPem, expectedNonce: nonce, pcrs: replayEventLog(events) });
    expect(r.failures).toEqual([expect.objectContaining({ code: 'tpm-signature-invalid', message: 'TPM quote signature does not verify with the device attestation key' })]);
  });

  it('a quote signed in tpm2_quote -f plain (DER ECDSA) verifies, and openssl agrees with it', async () => {
    const nonce = decodeNonce(newNonce(60).nonce);
    const q = await tpm.quote(ak, quoted, nonce, 'plain');
    expect(q.signature[0]).toBe(0x30); // a DER SEQUENCE, not a TPMT_SIGNATURE
    const r = verifyTpmQuote({ ...q, akPublicKey: ak.publicKeyPem, expectedNonce: nonce, pcrs: replayEventLog(events), requiredPcrs: quoted });
    expect(r.failures).toEqual([]);
    expect(r).toMatchObject({ ok: true, signatureFormat: 'plain', quotedPcrs: quoted });
    const dir = mkdtempSync(join(tmpdir(), 'fg-plain-'));
    try {
      writeFileSync(join(dir, 'ak.pem'), ak.publicKeyPem);
      writeFileSync(join(dir, 'q.msg'), q.quote);
      writeFileSync(join(dir, 'q.sig'), q.signature);
      const ossl = spawnSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'ak.pem'), '-signature', join(dir, 'q.sig'), join(dir, 'q.msg')], { encoding: 'utf8' });
      expect(ossl.stdout.trim()).toBe('Verified OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The same plain signature over another nonce's quote, or flipped, does not verify.
    const flipped = Buffer.from(q.signature);
    flipped[flipped.length - 1] ^= 1;
    expect(verifyTpmQuote({ ...q, signature: flipped, akPublicKey: ak.publicKeyPem, expectedNonce: nonce, pcrs: replayEventLog(events) }).failures).toEqual([
      expect.objectContaining({ check: 'signature', code: 'tpm-signature-invalid' }),
    ]);
    const other = await tpm.quote(ak, quoted, decodeNonce(newNonce(60).nonce), 'plain');
    expect(verifyTpmQuote({ ...q, signature: other.signature, akPublicKey: ak.publicKeyPem, expectedNonce: nonce, pcrs: replayEventLog(events) }).ok).toBe(false);
  });

  it('RSA AKs (RSASSA and RSAPSS) verify too, in both signature formats', async () => {
    for (const scheme of ['rsassa', 'rsapss'] as const) {
      const rsa = await tpm.createAk(`ak-${scheme}`, { alg: 'rsa', scheme });
      const nonce = decodeNonce(newNonce(60).nonce);
      const q = await tpm.quote(rsa, quoted, nonce);
      expect(parseTpmtSignature(q.signature).sigAlg).toBe(scheme);
      expect(verifyTpmQuote({ ...q, akPublicKey: rsa.publicKeyPem, expectedNonce: nonce, pcrs: replayEventLog(events) }).failures).toEqual([]);
      const plain = await tpm.quote(rsa, quoted, nonce, 'plain');
      expect(plain.signature.length).toBe(256);
      expect(verifyTpmQuote({ ...plain, akPublicKey: rsa.publicKeyPem, expectedNonce: nonce, pcrs: replayEventLog(events) })).toMatchObject({ ok: true, signatureFormat: 'plain' });
    }
  }, 90_000);

  it('a TPM where one PCR was extended differently fails, naming the PCR digest', async () => {
    const tampered = await SwtpmDriver.start();
    try {
      const tamperedAk = await tampered.createAk('ak');
      // The kernel measured by the TPM is not the one the event log claims.
      await tampered.extendEvents(events.map((e) => (e.component === 'kernel' ? { ...e, digest: sha256Hex('evil kernel') } : e)));
      const s = createAppraisalScenario();
      s.device.akPublicKey = tamperedAk.publicKeyPem;
      const nonce = s.nonces.issue(s.deviceId);
      const q = await tampered.quote(tamperedAk, quoted, decodeNonce(nonce));
      const check = verifyTpmQuote({ ...q, akPublicKey: tamperedAk.publicKeyPem, expectedNonce: decodeNonce(nonce), pcrs: replayEventLog(events) });
      expect(check.failures.map((f) => f.code)).toEqual(['tpm-pcr-digest-mismatch']);
      const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ nonce, tpm: q }) }, s.ports);
      expect(r.status).toBe('contraindicated');
      expect(r.trustVector.executables).toBe(96);
      expect(r.reasons).toEqual([expect.stringContaining('TPM quote PCR digest over PCR 0, 2, 4, 7 is')]);
    } finally {
      await tampered.stop();
    }
  }, 60_000);
});
