import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { appraiseEvidence, decodeNonce, replayEventLog } from '@fleetguard/attestation';
import { createAppraisalScenario } from '@fleetguard/attestation/testing';
import { sha256Hex, SwtpmDriver } from '@fleetguard/device-kit';
import { DeviceProfile, parseDeviceProfile } from './device-profile.schema';
import { createDeviceTpm } from './device-tpm';
import {
  bootEventsFor,
  buildBehaviourEvidence,
  DEVICE_BEHAVIOURS,
  DeviceBehaviour,
  firmwareFor,
  measuredPcrs,
  tamperedDigest,
  tamperTarget,
} from './evidence.behaviour';

const payloadOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8'));

/** The attestation lib's in-memory verifier setup, with an older release the device can roll back to. */
function setup() {
  const s = createAppraisalScenario();
  const rollbackFw = { productId: s.productId, version: '2.3.0', digest: `sha256:${sha256Hex('firmware image 2.3.0')}`, securityCounter: 4 };
  s.releases.set('2.3.0', { digest: rollbackFw.digest, securityCounter: 4, status: 'trusted', referenceValues: { events: s.events } });
  const profile: DeviceProfile = { fw: { ...s.fw, digest: `sha256:${s.fw.digest}` }, events: s.events, rollbackFw };
  const impostorKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const build = (behaviour: DeviceBehaviour, extra: Partial<Parameters<typeof buildBehaviourEvidence>[0]> = {}) =>
    buildBehaviourEvidence({ behaviour, deviceId: s.deviceId, nonce: s.nonces.issue(s.deviceId), profile, deviceKey: s.deviceKey, impostorKey, ...extra });
  return { s, profile, impostorKey, build };
}

describe('evidence per behaviour', () => {
  it('good: the received nonce, the profile firmware and boot, signed ES256 with the enrolled key', async () => {
    const { s, profile, build } = setup();
    const nonce = s.nonces.issue(s.deviceId);
    const { evidence, nonce: sent } = await build('good', { nonce });
    expect(sent).toBe(nonce);
    expect(decodeProtectedHeader(evidence).alg).toBe('ES256');
    await expect(compactVerify(evidence, createPublicKey(s.deviceKey))).resolves.toBeDefined();
    const p = payloadOf(evidence);
    expect(p).toMatchObject({ eat_nonce: nonce, ueid: s.deviceId, fw: profile.fw, boot: { alg: 'sha256', events: profile.events, pcrs: replayEventLog(profile.events) } });
    expect(p.tpm).toBeUndefined();
  });

  it.each<[DeviceBehaviour]>([['weak-config'], ['silent']])('%s: the evidence itself is good', async (behaviour) => {
    const { build } = setup();
    const good = payloadOf((await build('good')).evidence);
    const other = payloadOf((await build(behaviour)).evidence);
    expect({ ...other, eat_nonce: 0, iat: 0 }).toEqual({ ...good, eat_nonce: 0, iat: 0 });
  });

  it('tampered-component: exactly one event digest differs (the kernel), and the PCRs replay consistently', async () => {
    const { profile, build } = setup();
    const p = payloadOf((await build('tampered-component')).evidence);
    const changed = p.boot.events.map((e: { digest: string }, i: number) => e.digest !== profile.events[i].digest);
    expect(changed.filter(Boolean)).toHaveLength(1);
    const i = changed.indexOf(true);
    expect(p.boot.events[i].component).toBe('kernel');
    expect(p.boot.events[i].digest).toBe(tamperedDigest(profile.events[i].digest));
    expect(p.boot.pcrs).toEqual(replayEventLog(p.boot.events));
    expect(p.boot.pcrs).not.toEqual(replayEventLog(profile.events));
  });

  it('tampered-component: the component can be chosen; an unknown one is refused', () => {
    const { profile } = setup();
    const events = bootEventsFor('tampered-component', profile, 'bootloader');
    expect(events.filter((e, i) => e.digest !== profile.events[i].digest).map((e) => e.component)).toEqual(['bootloader']);
    expect(() => tamperTarget(profile.events, 'bios')).toThrow(/'bios' is not a boot event/);
    expect(tamperTarget([{ pcr: 0, component: 'rom', digest: 'a'.repeat(64) }, { pcr: 1, component: 'app', digest: 'b'.repeat(64) }])).toBe(1);
  });

  it('wrong-nonce: a well-formed nonce that is not the received one', async () => {
    const { s, build } = setup();
    const nonce = s.nonces.issue(s.deviceId);
    const { evidence, nonce: sent } = await build('wrong-nonce', { nonce });
    expect(sent).not.toBe(nonce);
    expect(payloadOf(evidence).eat_nonce).toBe(sent);
    expect(decodeNonce(sent)).toHaveLength(32);
  });

  it('rollback: the older release from the profile, or the current one with a lower counter', async () => {
    const { profile, build } = setup();
    expect(payloadOf((await build('rollback')).evidence).fw).toEqual(profile.rollbackFw);
    const noOlder = { ...profile, rollbackFw: undefined };
    expect(firmwareFor('rollback', noOlder)).toEqual({ ...profile.fw, securityCounter: profile.fw.securityCounter - 1 });
    expect(() => firmwareFor('rollback', { ...noOlder, fw: { ...profile.fw, securityCounter: 0 } })).toThrow(/rollback needs/);
    const older = [{ pcr: 4, component: 'kernel', digest: sha256Hex('linux 6.1') }];
    expect(bootEventsFor('rollback', { ...profile, rollbackFw: { ...profile.rollbackFw!, events: older } })).toEqual(older);
  });

  it('wrong-key: signed by the impostor key, not the enrolled one', async () => {
    const { s, impostorKey, build } = setup();
    const { evidence } = await build('wrong-key');
    await expect(compactVerify(evidence, createPublicKey(s.deviceKey))).rejects.toThrow(/signature verification failed/);
    await expect(compactVerify(evidence, createPublicKey(impostorKey))).resolves.toBeDefined();
    await expect(build('wrong-key', { impostorKey: undefined })).rejects.toThrow(/impostor key/);
  });

  // What the verifier concludes from each: the attestation lib's appraisal over in-memory stores.
  it.each<[DeviceBehaviour, string, string[]]>([
    ['good', 'affirming', []],
    ['weak-config', 'affirming', []],
    ['silent', 'affirming', []],
    ['tampered-component', 'contraindicated', ['component-digest-mismatch']],
    ['wrong-nonce', 'contraindicated', ['nonce-unknown']],
    ['rollback', 'contraindicated', ['rollback-below-product-minimum', 'rollback-below-device-last-seen']],
    ['wrong-key', 'contraindicated', ['signature-invalid']],
  ])('%s is appraised %s (%j)', async (behaviour, status, codes) => {
    const { s, build } = setup();
    const { evidence } = await build(behaviour);
    const result = await appraiseEvidence({ deviceId: s.deviceId, evidence }, s.ports);
    expect(result.findings.map((f) => f.code)).toEqual(codes);
    expect(result.status).toBe(status);
  });

  it('every behaviour is covered above', () => {
    expect([...DEVICE_BEHAVIOURS].sort()).toEqual(['good', 'rollback', 'silent', 'tampered-component', 'weak-config', 'wrong-key', 'wrong-nonce']);
  });

  it('Ed25519 and P-384 devices sign with EdDSA and ES384', async () => {
    const { s, profile } = setup();
    for (const [type, options, alg] of [['ed25519', {}, 'EdDSA'], ['ec', { namedCurve: 'P-384' }, 'ES384']] as const) {
      const deviceKey = generateKeyPairSync(type as 'ec', options as { namedCurve: string }).privateKey;
      const { evidence } = await buildBehaviourEvidence({ behaviour: 'good', deviceId: s.deviceId, nonce: s.nonces.issue(s.deviceId), profile, deviceKey });
      expect(decodeProtectedHeader(evidence).alg).toBe(alg);
    }
  });
});

describe('evidence with a TPM quote', () => {
  const cases: [string, boolean][] = [
    ['software', true],
    ['swtpm', SwtpmDriver.isAvailable()],
  ];
  it.each(cases)('%s: the quote verifies with the AK, carries the nonce and the replayed PCRs; misbehaviours stay consistent', async (mode, available) => {
    if (!available) return; // swtpm + tpm2-tools not installed
    const { s, build } = setup();
    for (const [behaviour, status, codes] of [
      ['good', 'affirming', []],
      ['tampered-component', 'contraindicated', ['component-digest-mismatch']],
      ['wrong-nonce', 'contraindicated', ['nonce-unknown']],
    ] as const) {
      const tpm = await createDeviceTpm({ mode: mode as 'software' | 'swtpm' });
      try {
        s.device.akPublicKey = tpm.akPublicKeyPem;
        const events = bootEventsFor(behaviour, { fw: s.fw, events: s.events });
        await tpm.measureBoot(events);
        const { evidence } = await build(behaviour, { events, quote: (pcrs, data) => tpm.quote(pcrs, data) });
        const p = payloadOf(evidence);
        expect(typeof p.tpm.quote).toBe('string');
        expect(typeof p.tpm.signature).toBe('string');
        const result = await appraiseEvidence({ deviceId: s.deviceId, evidence }, s.ports);
        expect([behaviour, result.findings.map((f) => f.code)]).toEqual([behaviour, codes]);
        expect(result.status).toBe(status);
        if (behaviour === 'good') expect(result.claims?.tpm.quotedPcrs).toEqual(measuredPcrs(events));
      } finally {
        await tpm.close();
      }
    }
  });
});

describe('parseDeviceProfile', () => {
  const fw = { productId: 'prod-1', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, securityCounter: 3 };
  const events = [{ pcr: 0, component: 'rom', digest: 'b'.repeat(64) }];
  it('accepts a profile, with or without an older release', () => {
    expect(parseDeviceProfile({ fw, events })).toEqual({ fw, events });
    expect(parseDeviceProfile({ fw, events, rollbackFw: { ...fw, version: '0.9', securityCounter: 1, events } }).rollbackFw?.version).toBe('0.9');
  });
  it('names every problem', () => {
    expect(() => parseDeviceProfile({ fw: { ...fw, digest: 'md5:x', securityCounter: -1 }, events: [{ pcr: 30, component: '', digest: 'x' }], extra: 1 })).toThrow(
      /invalid device profile: .*fw\.digest: must be sha256:<64 hex digits>.*fw\.securityCounter.*events\.0\.pcr.*events\.0\.component.*events\.0\.digest: must be 64 hex digits/,
    );
    expect(() => parseDeviceProfile({ fw, events: [] })).toThrow(/events/);
    expect(() => parseDeviceProfile({ fw, events, extra: true })).toThrow(/extra/);
  });
});
