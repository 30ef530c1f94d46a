import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError } from '@fleetguard/common';
import { appraiseEvidence, AppraisalResult } from './appraisal.pipeline';
import { decodeNonce } from './nonce';
import { replayEventLog } from './event-log.replay';
import { sha256Hex, buildSoftwareQuote } from '@fleetguard/device-kit';
import { createAppraisalScenario } from './testing/appraisal.fixture';

const appraise = async (s: ReturnType<typeof createAppraisalScenario>, evidence: string, now?: Date) =>
  appraiseEvidence({ deviceId: s.deviceId, evidence, now }, s.ports);

function expectReason(r: AppraisalResult, ...fragments: string[]): void {
  expect(r.reasons).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(fragments.map(escape).join('.*')))]));
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('appraiseEvidence: good evidence', () => {
  it('is affirming: trustworthy instance, genuine firmware, approved boot', async () => {
    const s = createAppraisalScenario();
    const r = await appraise(s, await s.evidence());
    expect(r.reasons).toEqual([]);
    expect(r.status).toBe('affirming');
    expect(r.trustVector).toEqual({
      'instance-identity': 2,
      configuration: 0,
      executables: 3,
      'file-system': 0,
      hardware: 2,
      'runtime-opaque': 0,
      'storage-opaque': 0,
      'sourced-data': 0,
    });
    expect(r.firmware).toEqual({ version: '2.4.1', securityCounter: 7 });
    expect(r.claims?.boot.events).toHaveLength(5);
    expect(r.claims?.fw.digest).toBe(s.fw.digest);
    expect(r.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.replayedPcrs).toEqual(replayEventLog(s.events));
  });

  it('runs the stages in SPEC order: device, nonce, firmware', async () => {
    const s = createAppraisalScenario();
    await appraise(s, await s.evidence());
    expect(s.ports.calls).toEqual(['findDevice:dev-0001', 'consumeNonce', 'findRelease:2.4.1']);
  });

  it('accepts the device certificate PEM as the enrolled key', async () => {
    const { certPem, keyPem } = selfSignedCert('dev-0001', 1);
    const s = createAppraisalScenario({ deviceKey: createPrivateKey(keyPem) });
    s.device.publicKey = certPem;
    expect((await appraise(s, await s.evidence())).status).toBe('affirming');
  });

  it('matches expected PCR values of the reference when given', async () => {
    const s = createAppraisalScenario();
    s.releases.get('2.4.1')!.referenceValues!.pcrs = replayEventLog(s.events);
    expect((await appraise(s, await s.evidence())).status).toBe('affirming');
  });
});

describe('appraiseEvidence: a store that can look at a nonce without using it (peekNonce)', () => {
  /** The scenario's ports with peekNonce (calls recorded), as the service's store gives them. */
  const peeking = (s: ReturnType<typeof createAppraisalScenario>) => ({
    ...s.ports,
    peekNonce: async (id: string, nonce: string) => {
      s.ports.calls.push(`peekNonce:${id}`);
      return s.nonces.peek(id, nonce);
    },
  });

  it('looks the nonce up before the device is found and the signature checked, and judges freshness by that answer', async () => {
    const s = createAppraisalScenario();
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence() }, peeking(s));
    expect(r.status).toBe('affirming');
    expect(s.ports.calls).toEqual(['peekNonce:dev-0001', 'findDevice:dev-0001', 'findRelease:2.4.1']);
    expect(s.nonces.isUsed(r.nonce!)).toBe(false); // used when the result commits, not here
  });

  it.each([
    ['used', (s: ReturnType<typeof createAppraisalScenario>) => {
      const n = s.nonces.issue(s.deviceId);
      void s.ports.consumeNonce(s.deviceId, n);
      return n;
    }, 'was already used'],
    ['expired', (s: ReturnType<typeof createAppraisalScenario>) => s.nonces.issueExpired(s.deviceId), 'has expired'],
    ['unknown', (s: ReturnType<typeof createAppraisalScenario>) => s.nonces.issue('dev-other'), 'was not issued to this device'],
  ] as const)('a nonce the early look finds %s: contraindicated', async (state, nonceOf, text) => {
    const s = createAppraisalScenario();
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ nonce: nonceOf(s) }) }, peeking(s));
    expect(r.status).toBe('contraindicated');
    expect(r.findings.map((f) => f.code)).toEqual([`nonce-${state}`]);
    expectReason(r, text);
  });

  it('a signature by another key: contraindicated on identity; the early look used nothing, and its failure is nobody\'s unhandled rejection', async () => {
    const s = createAppraisalScenario();
    const evidence = await s.evidence({ deviceKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey });
    const nonce = JSON.parse(Buffer.from(evidence.split('.')[1], 'base64url').toString()).eat_nonce as string;
    const unhandled: unknown[] = [];
    const note = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', note);
    try {
      const r = await appraiseEvidence({ deviceId: s.deviceId, evidence }, { ...peeking(s), peekNonce: () => Promise.reject(new Error('database down')) });
      expect(r.status).toBe('contraindicated');
      expectReason(r, 'signature does not verify with the device key');
      expect(s.nonces.isUsed(nonce)).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', note);
    }
    expect(unhandled).toEqual([]);
  });

  it('asks peekNonce for the nonce the caller already read from this payload (unverifiedNonce), without reading the payload again', async () => {
    const s = createAppraisalScenario();
    const told = s.nonces.issue(s.deviceId);
    const asked: string[] = [];
    const ports = { ...peeking(s), unverifiedNonce: told, peekNonce: async (id: string, n: string) => (asked.push(n), s.nonces.peek(id, n)) };
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence() }, ports);
    expect(asked).toEqual([told]); // the payload names another nonce: it was not decoded for the look
    // A nonce told that is not the verified claims' one is only a wasted look: freshness is judged
    // on the claims' nonce, used through consumeNonce after the signature.
    expect(r.status).toBe('affirming');
    expect(s.nonces.isUsed(r.nonce!)).toBe(true);
    expect(s.nonces.isUsed(told)).toBe(false);
  });

  it('a replayed nonce is caught though unverifiedNonce named another', async () => {
    const s = createAppraisalScenario();
    const used = s.nonces.issue(s.deviceId);
    void s.ports.consumeNonce(s.deviceId, used);
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ nonce: used }) }, { ...peeking(s), unverifiedNonce: s.nonces.issue(s.deviceId) });
    expect(r.findings.map((f) => f.code)).toEqual(['nonce-used']);
  });

  it('unverifiedNonce null (the caller read none): no early look, freshness through consumeNonce', async () => {
    const s = createAppraisalScenario();
    const r = await appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence() }, { ...peeking(s), unverifiedNonce: null });
    expect(r.status).toBe('affirming');
    expect(s.ports.calls.filter((c) => c.startsWith('peekNonce'))).toEqual([]);
    expect(s.nonces.isUsed(r.nonce!)).toBe(true);
  });

  it('a failed early look fails the appraisal when it is needed (the worker retries it)', async () => {
    const s = createAppraisalScenario();
    await expect(appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence() }, { ...peeking(s), peekNonce: () => Promise.reject(new Error('database down')) })).rejects.toThrow('database down');
  });

  it('a payload that names no nonce string is not looked up early (the claims check refuses it after the signature)', async () => {
    const s = createAppraisalScenario();
    const ports = peeking(s);
    await expect(appraiseEvidence({ deviceId: s.deviceId, evidence: await s.evidence({ nonce: 42 as unknown as string }) }, ports)).rejects.toBeInstanceOf(DomainError);
    expect(s.ports.calls).toEqual(['findDevice:dev-0001']);
  });
});

describe('appraiseEvidence: identity (a)', () => {
  it('signature by another key: contraindicated, stops before the nonce is consumed', async () => {
    const s = createAppraisalScenario();
    const evidence = await s.evidence({ deviceKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey });
    const r = await appraise(s, evidence);
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector['instance-identity']).toBe(99);
    expectReason(r, 'signature does not verify with the device key');
    expect(s.ports.calls).toEqual(['findDevice:dev-0001']);
    expect(r.claims).toBeNull();
    expect(r.nonce).toBeNull();
    expect(r.trustVector.executables).toBe(0);
  });

  it('ueid of another device: contraindicated, untrustworthy instance', async () => {
    const s = createAppraisalScenario();
    const r = await appraise(s, await s.evidence({ deviceId: 'dev-9999' }));
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector['instance-identity']).toBe(96);
    expectReason(r, "ueid 'dev-9999'", "'dev-0001'");
    expect(s.ports.calls).not.toContain('consumeNonce');
  });

  it.each(['revoked', 'expired'] as const)('%s certificate: contraindicated, untrustworthy instance', async (status) => {
    const s = createAppraisalScenario();
    s.device.certificateStatus = status;
    const r = await appraise(s, await s.evidence());
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector['instance-identity']).toBe(96);
    expectReason(r, `certificate is ${status}`);
  });

  it('certificate past notAfter: expired even if the store still says valid', async () => {
    const { certPem, keyPem } = selfSignedCert('dev-0001', 1);
    const s = createAppraisalScenario({ deviceKey: createPrivateKey(keyPem) });
    s.device.publicKey = certPem;
    const r = await appraise(s, await s.evidence(), new Date(Date.now() + 3 * 86_400_000));
    expect(r.status).toBe('contraindicated');
    expectReason(r, 'certificate is expired');
  });

  it('unknown device: contraindicated, unrecognized instance', async () => {
    const s = createAppraisalScenario();
    const r = await appraiseEvidence({ deviceId: 'dev-ghost', evidence: await s.evidence() }, s.ports);
    expect(r.trustVector['instance-identity']).toBe(97);
    expect(r.status).toBe('contraindicated');
    expectReason(r, "device 'dev-ghost' is not enrolled");
  });

  it('evidence that is not a JWS, or with invalid claims, is rejected with a DomainError', async () => {
    const s = createAppraisalScenario();
    await expect(appraise(s, 'garbage')).rejects.toMatchObject({ code: 'evidence-malformed' });
    const bad = await s.evidence({ extraClaims: { boot: { alg: 'sha256', events: [{ pcr: 99, component: 'x', digest: '00' }], pcrs: {} } } });
    await expect(appraise(s, bad)).rejects.toBeInstanceOf(DomainError);
    await expect(appraise(s, bad)).rejects.toMatchObject({ code: 'evidence-claims-invalid', message: expect.stringContaining('boot.events.0.pcr') });
  });
});

describe('appraiseEvidence: freshness (b)', () => {
  it('replayed nonce: the second use is contraindicated', async () => {
    const s = createAppraisalScenario();
    const evidence = await s.evidence();
    expect((await appraise(s, evidence)).status).toBe('affirming');
    const r = await appraise(s, evidence);
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector['instance-identity']).toBe(99);
    expectReason(r, 'nonce was already used');
    expect(r.trustVector.executables).toBe(0); // later stages do not run on stale evidence
    expect(s.ports.calls.filter((c) => c.startsWith('findRelease'))).toHaveLength(1);
  });

  it('expired nonce: contraindicated', async () => {
    const s = createAppraisalScenario();
    const r = await appraise(s, await s.evidence({ nonce: s.nonces.issueExpired(s.deviceId) }));
    expect(r.status).toBe('contraindicated');
    expectReason(r, 'nonce has expired');
  });

  it('nonce never issued (or issued to another device): contraindicated', async () => {
    const s = createAppraisalScenario();
    const r1 = await appraise(s, await s.evidence({ nonce: randomBytes(32).toString('base64url') }));
    expectReason(r1, 'nonce was not issued to this device');
    const r2 = await appraise(s, await s.evidence({ nonce: s.nonces.issue('dev-other') }));
    expect(r2.status).toBe('contraindicated');
    expectReason(r2, 'nonce was not issued to this device');
  });
});

describe('appraiseEvidence: firmware (c)', () => {
  it('unknown firmware version: contraindicated (unrecognized), boot not compared', async () => {
    const s = createAppraisalScenario();
    const r = await appraise(s, await s.evidence({ fw: { ...s.fw, version: '9.9.9' } }));
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector.hardware).toBe(97);
    expectReason(r, 'firmware version 9.9.9 is not a known release');
    expectReason(r, 'not compared with reference values');
    expect(r.trustVector.executables).toBe(0);
  });

  it('revoked release: contraindicated, and the boot is still compared', async () => {
    const s = createAppraisalScenario();
    s.releases.get('2.4.1')!.status = 'revoked';
    const r = await appraise(s, await s.evidence());
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector.hardware).toBe(96);
    expect(r.trustVector.executables).toBe(3);
    expectReason(r, 'firmware release 2.4.1 is revoked');
  });

  it('rollback below the product minimum: contraindicated', async () => {
    const s = createAppraisalScenario();
    s.productMinimum.value = 8;
    const r = await appraise(s, await s.evidence());
    expect(r.status).toBe('contraindicated');
    expectReason(r, 'security counter 7', 'below the product minimum 8', 'rollback');
  });

  it('rollback below what the device reported before: contraindicated', async () => {
    const s = createAppraisalScenario();
    s.device.lastSecurityCounter = 9;
    const r = await appraise(s, await s.evidence());
    expect(r.status).toBe('contraindicated');
    expectReason(r, 'security counter 7', 'below 9 which this device reported before', 'rollback');
  });

  it('reported digest differs from the release digest: contraindicated', async () => {
    const s = createAppraisalScenario();
    const r = await appraise(s, await s.evidence({ fw: { ...s.fw, digest: sha256Hex('patched image') } }));
    expect(r.status).toBe('contraindicated');
    expectReason(r, `measured sha256:${sha256Hex('patched image').slice(0, 16)}`, `release digest is sha256:${s.fw.digest.slice(0, 16)}`);
  });

  it('security counter claim differs from the release: contraindicated', async () => {
    const s = createAppraisalScenario();
    const r = await appraise(s, await s.evidence({ fw: { ...s.fw, securityCounter: 8 } }));
    expect(r.status).toBe('contraindicated');
    expectReason(r, 'reports security counter 8 but the release has 7');
  });

  it("firmware of another product: contraindicated, the other product's releases are not consulted", async () => {
    const s = createAppraisalScenario();
    const r = await appraise(s, await s.evidence({ fw: { ...s.fw, productId: 'prod-other' } }));
    expect(r.status).toBe('contraindicated');
    expectReason(r, "product 'prod-other'", "'prod-plc-7'");
    expect(s.ports.calls.some((c) => c.startsWith('findRelease'))).toBe(false);
  });
});

describe('appraiseEvidence: event log (d)', () => {
  it('reported PCRs that do not match the replay: contraindicated, PCR named', async () => {
    const s = createAppraisalScenario();
    const pcrs = { ...replayEventLog(s.events), '4': sha256Hex('forged') };
    const r = await appraise(s, await s.evidence({ pcrs }));
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector.executables).toBe(96);
    expectReason(r, 'PCR 4 is reported as', 'but the event log replays to');
  });

  it('a measured PCR left out of the report: contraindicated', async () => {
    const s = createAppraisalScenario();
    const { '7': _omit, ...pcrs } = replayEventLog(s.events);
    const r = await appraise(s, await s.evidence({ pcrs }));
    expect(r.status).toBe('contraindicated');
    expectReason(r, 'PCR 7 is measured by the event log', 'but not reported');
  });
});

describe('appraiseEvidence: reference values (f)', () => {
  it('a component with a different digest: contraindicated, component named with both digests', async () => {
    const s = createAppraisalScenario();
    const events = s.events.map((e) => (e.component === 'kernel' ? { ...e, digest: sha256Hex('linux 6.6.30 + rootkit') } : e));
    const r = await appraise(s, await s.evidence({ events }));
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector.executables).toBe(96);
    expect(r.reasons).toEqual([
      `component 'kernel' in PCR 4 measured sha256:${sha256Hex('linux 6.6.30 + rootkit').slice(0, 16)}.. but the reference value is sha256:${sha256Hex('linux 6.6.30').slice(0, 16)}..`,
    ]);
  });

  it('an unknown boot component: warning (unrecognized), component named', async () => {
    const s = createAppraisalScenario();
    const events = [...s.events, { pcr: 5, component: 'debug-shell', digest: sha256Hex('sh') }];
    const r = await appraise(s, await s.evidence({ events }));
    expect(r.status).toBe('warning');
    expect(r.trustVector.executables).toBe(33);
    expectReason(r, "component 'debug-shell' in PCR 5", 'is not in the reference values of release 2.4.1');
  });

  it('a missing component: contraindicated, component named', async () => {
    const s = createAppraisalScenario();
    const r = await appraise(s, await s.evidence({ events: s.events.filter((e) => e.component !== 'secure-boot-policy') }));
    expect(r.status).toBe('contraindicated');
    expectReason(r, "component 'secure-boot-policy' expected in PCR 7 was not measured");
  });

  it('a component measured into another PCR, and components out of order', async () => {
    const s = createAppraisalScenario();
    const moved = s.events.map((e) => (e.component === 'bootloader' ? { ...e, pcr: 3 } : e));
    const r1 = await appraise(s, await s.evidence({ events: moved }));
    expect(r1.status).toBe('contraindicated');
    expect(r1.reasons).toEqual(["component 'bootloader' was measured into PCR 3 but the reference value expects it in PCR 2"]);

    const [rom, bl, kernel, initrd, policy] = s.events;
    const r2 = await appraise(s, await s.evidence({ events: [rom, bl, initrd, kernel, policy] }));
    expect(r2.status).toBe('contraindicated');
    expectReason(r2, "component 'kernel' in PCR 4 was measured before 'initrd', out of the reference order");
  });

  it('an expected PCR value that differs: contraindicated', async () => {
    const s = createAppraisalScenario();
    s.releases.get('2.4.1')!.referenceValues!.pcrs = { '0': sha256Hex('other rom') };
    const r = await appraise(s, await s.evidence());
    expect(r.status).toBe('contraindicated');
    expectReason(r, 'PCR 0 replays to', 'but the reference value is');
  });

  it('a release without reference values: warning', async () => {
    const s = createAppraisalScenario();
    s.releases.get('2.4.1')!.referenceValues = null;
    const r = await appraise(s, await s.evidence());
    expect(r.status).toBe('warning');
    expectReason(r, 'release 2.4.1 has no reference values');
  });

  it('several failures at once: every reason is returned, status is the worst', async () => {
    const s = createAppraisalScenario();
    s.releases.get('2.4.1')!.status = 'revoked';
    s.device.lastSecurityCounter = 8;
    const events = [...s.events, { pcr: 9, component: 'extra', digest: sha256Hex('e') }];
    const r = await appraise(s, await s.evidence({ events }));
    expect(r.status).toBe('contraindicated');
    expect(r.findings.map((f) => f.code)).toEqual(['rollback-below-device-last-seen', 'firmware-revoked', 'component-unknown']);
    expect(r.trustVector).toMatchObject({ 'instance-identity': 2, hardware: 96, executables: 33 });
  });
});

describe('appraiseEvidence: TPM quote (e)', () => {
  function withAk() {
    const s = createAppraisalScenario();
    const ak = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    s.device.akPublicKey = ak.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    return { s, ak: ak.privateKey };
  }
  const quoteFor = (akKey: KeyObject, nonce: string, pcrs: Record<string, string>) =>
    buildSoftwareQuote({ akPrivateKey: akKey, extraData: decodeNonce(nonce), pcrs, select: [0, 2, 4, 7] });

  it('a matching quote: affirming', async () => {
    const { s, ak } = withAk();
    const nonce = s.nonces.issue(s.deviceId);
    const r = await appraise(s, await s.evidence({ nonce, tpm: quoteFor(ak, nonce, replayEventLog(s.events)) }));
    expect(r.reasons).toEqual([]);
    expect(r.status).toBe('affirming');
    expect(r.claims?.tpm).toEqual({ present: true, quotedPcrs: [0, 2, 4, 7] });
  });

  it('a device with a registered AK that sends no quote: warning, said plainly', async () => {
    const { s } = withAk();
    const r = await appraise(s, await s.evidence());
    expect(r.status).toBe('warning');
    expect(r.trustVector.hardware).toBe(32);
    expectReason(r, 'registered TPM attestation key but sent no TPM quote');
  });

  it('a quote over another nonce: contraindicated', async () => {
    const { s, ak } = withAk();
    const other = s.nonces.issue(s.deviceId);
    const r = await appraise(s, await s.evidence({ tpm: quoteFor(ak, other, replayEventLog(s.events)) }));
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector.hardware).toBe(99);
    expectReason(r, 'extraData', 'is not the nonce of this challenge');
  });

  it('a quote whose PCRs differ from the event log: contraindicated', async () => {
    const { s, ak } = withAk();
    const nonce = s.nonces.issue(s.deviceId);
    const tpmPcrs = { ...replayEventLog(s.events), '4': sha256Hex('what the TPM really saw') };
    const r = await appraise(s, await s.evidence({ nonce, tpm: quoteFor(ak, nonce, tpmPcrs) }));
    expect(r.status).toBe('contraindicated');
    expect(r.trustVector.executables).toBe(96);
    expectReason(r, 'TPM quote PCR digest over PCR 0, 2, 4, 7', 'replayed event log gives');
  });

  it('a quote signed by another AK: contraindicated', async () => {
    const { s } = withAk();
    const nonce = s.nonces.issue(s.deviceId);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const r = await appraise(s, await s.evidence({ nonce, tpm: quoteFor(other, nonce, replayEventLog(s.events)) }));
    expect(r.status).toBe('contraindicated');
    expectReason(r, 'TPM quote signature does not verify with the device attestation key');
  });

  it('a quote from a device without a registered AK: warning, the quote cannot be checked', async () => {
    const s = createAppraisalScenario();
    const nonce = s.nonces.issue(s.deviceId);
    const ak = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const r = await appraise(s, await s.evidence({ nonce, tpm: quoteFor(ak, nonce, replayEventLog(s.events)) }));
    expect(r.status).toBe('warning');
    expectReason(r, 'no registered attestation key');
  });
});

/** A self-signed P-256 certificate made by openssl (not by the code under test). */
function selfSignedCert(cn: string, days: number): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days), '-subj', `/CN=${cn}`, '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    return { certPem: readFileSync(join(dir, 'c.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
