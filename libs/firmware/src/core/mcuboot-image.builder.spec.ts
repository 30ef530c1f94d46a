/** @jest-environment ./libs/firmware/src/core/testing/noble.jest-environment.cjs */
jest.mock('@noble/curves/nist.js', () => (globalThis as any).__fleetguardNobleNist);

import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMcubootImage, McubootImageWriter, parseMcubootVersion } from './mcuboot-image.builder';
import { TLV } from './mcuboot-image.format';
import { verifyMcubootImage } from './mcuboot-image.verifier';
import { signingKeyFromKeyObject } from './signing-key';
import { outcomeOf, samplePrivateKey, samplesIndex } from './testing/firmware-samples';
import { splitImage } from './testing/mcuboot-bytes';

const OPENSSL = '/usr/bin/openssl';
const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

/** Checks a built image with openssl alone: the SHA256 TLV and the signature over the region. */
function opensslAccepts(image: Buffer, privateKey: KeyObject): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'fg-mcuboot-'));
  try {
    const parts = splitImage(image);
    const sigTlv = parts.tlvs.find((t) => [TLV.ECDSA_SIG, TLV.ED25519, TLV.RSA2048_PSS, TLV.RSA3072_PSS].includes(t.type as never))!;
    const hashTlv = parts.tlvs.find((t) => t.type === TLV.SHA256 || t.type === TLV.SHA384)!;
    const dgst = hashTlv.type === TLV.SHA384 ? '-sha384' : '-sha256';
    writeFileSync(join(dir, 'region'), parts.region);
    writeFileSync(join(dir, 'sig'), sigTlv.value);
    writeFileSync(join(dir, 'hash'), hashTlv.value);
    writeFileSync(join(dir, 'pub.pem'), createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
    const digest = execFileSync(OPENSSL, ['dgst', dgst, '-binary', join(dir, 'region')]);
    if (!digest.equals(hashTlv.value)) return false;
    const args =
      sigTlv.type === TLV.ED25519
        ? ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'pub.pem'), '-rawin', '-in', join(dir, 'hash'), '-sigfile', join(dir, 'sig')]
        : [
            'dgst', dgst, '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig'),
            ...(sigTlv.type === TLV.ECDSA_SIG ? [] : ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32']),
            join(dir, 'region'),
          ];
    try {
      execFileSync(OPENSSL, args, { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('McubootImageWriter / buildMcubootImage', () => {
  it.each([
    ['ec-p256', () => samplePrivateKey('ec-p256'), TLV.ECDSA_SIG],
    ['ed25519', () => samplePrivateKey('ed25519'), TLV.ED25519],
    ['rsa-3072', () => samplePrivateKey('rsa-3072'), TLV.RSA3072_PSS],
    ['rsa-2048', () => rsa2048, TLV.RSA2048_PSS],
    ['ec-p384 (SHA-384)', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, TLV.ECDSA_SIG],
  ])('signs with %s as imgtool does: openssl accepts it, and so does the verifier', (name, key, sigType) => {
    const privateKey = key();
    const body = randomBytes(3000);
    const image = buildMcubootImage(body, { version: '2.5.7+99', securityCounter: 11, headerSize: 0x200, loadAddress: 0x10000 }, privateKey);
    const parts = splitImage(image);
    expect(parts.headerSize).toBe(0x200);
    expect(parts.tlvs.map((t) => t.type)).toEqual([name.startsWith('ec-p384') ? TLV.SHA384 : TLV.SHA256, TLV.KEYHASH, sigType]);
    expect(image.subarray(0x200, 0x200 + 3000)).toEqual(body);
    expect(opensslAccepts(image, privateKey)).toBe(true);

    const publicKey = signingKeyFromKeyObject(createPublicKey(privateKey));
    const verdict = verifyMcubootImage(image, [publicKey]);
    expect(verdict).toMatchObject({ version: '2.5.7+99', securityCounter: 11, size: image.length, signerKeyId: publicKey.keyId });
  });

  it('writes the KEYHASH forms imgtool uses (SPKI for EC, PKCS#1 for RSA)', () => {
    const ec = splitImage(buildMcubootImage(Buffer.alloc(10), { version: '1.0' }, samplePrivateKey('ec-p256')));
    expect(ec.tlvs[1].value.toString('hex')).toBe(samplesIndex.keys['ec-p256'].keyId);
    const rsa = splitImage(buildMcubootImage(Buffer.alloc(10), { version: '1.0' }, samplePrivateKey('rsa-3072')));
    expect(rsa.tlvs[1].value.toString('hex')).toBe(samplesIndex.keys['rsa-3072'].mcubootKeyHashPkcs1);
  });

  it('streams: header, body in chunks, trailer; no SEC_CNT means no protected area', () => {
    const key = samplePrivateKey('ed25519');
    const writer = new McubootImageWriter(10_000, { version: { major: 0, minor: 1, revision: 2, build: 3 } }, key);
    const parts = [writer.header()];
    for (let i = 0; i < 10; i++) {
      const chunk = randomBytes(1000);
      writer.update(chunk);
      parts.push(chunk);
    }
    parts.push(writer.trailer());
    const image = Buffer.concat(parts);
    expect(image.readUInt16LE(10)).toBe(0);
    expect(opensslAccepts(image, key)).toBe(true);
    expect(verifyMcubootImage(image, [signingKeyFromKeyObject(createPublicKey(key))])).toMatchObject({
      version: '0.1.2+3',
      securityCounter: null,
    });
  });

  it('refuses bad input with DomainErrors', () => {
    const key = samplePrivateKey('ec-p256');
    expect(outcomeOf(() => new McubootImageWriter(1, { version: '1.x' }, key))).toBe('mcuboot.bad-build-input');
    expect(outcomeOf(() => new McubootImageWriter(1, { version: '256.0' }, key))).toBe('mcuboot.bad-build-input');
    expect(outcomeOf(() => new McubootImageWriter(1, { version: '1.0', headerSize: 16 }, key))).toBe('mcuboot.bad-build-input');
    expect(outcomeOf(() => new McubootImageWriter(1, { version: '1.0', securityCounter: -1 }, key))).toBe('mcuboot.bad-build-input');
    expect(outcomeOf(() => new McubootImageWriter(-1, { version: '1.0' }, key))).toBe('mcuboot.bad-build-input');
    expect(outcomeOf(() => new McubootImageWriter(1, { version: '1.0' }, createPublicKey(key)))).toBe('mcuboot.bad-build-input');
    const rsa2304 = generateKeyPairSync('rsa', { modulusLength: 2304 }).privateKey;
    expect(outcomeOf(() => new McubootImageWriter(1, { version: '1.0' }, rsa2304))).toBe('mcuboot.bad-build-input');
    const short = new McubootImageWriter(10, { version: '1.0' }, key);
    short.header();
    short.update(Buffer.alloc(5));
    expect(outcomeOf(() => short.trailer())).toBe('mcuboot.bad-build-input');
    const long = new McubootImageWriter(10, { version: '1.0' }, key);
    long.header();
    expect(outcomeOf(() => long.update(Buffer.alloc(11)))).toBe('mcuboot.bad-build-input');
  });

  it('parses imgtool-style versions', () => {
    expect(parseMcubootVersion('1.2')).toEqual({ major: 1, minor: 2, revision: 0, build: 0 });
    expect(parseMcubootVersion('1.2.3+4')).toEqual({ major: 1, minor: 2, revision: 3, build: 4 });
    expect(parseMcubootVersion('255.255.65535+4294967295')).toEqual({ major: 255, minor: 255, revision: 65535, build: 4294967295 });
    expect(outcomeOf(() => parseMcubootVersion('1.2.65536'))).toBe('mcuboot.bad-build-input');
  });
});
