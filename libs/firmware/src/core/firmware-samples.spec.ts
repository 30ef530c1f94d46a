/** @jest-environment ./libs/firmware/src/core/testing/noble.jest-environment.cjs */
jest.mock('@noble/curves/nist.js', () => (globalThis as any).__fleetguardNobleNist);

import { createHash } from 'node:crypto';
import { checkRollback } from './anti-rollback.rules';
import { verifyDetachedImageStream, verifyDetachedImage, verifyManifest } from './firmware-manifest.verifier';
import type { FirmwareVerdict } from './firmware.verdict';
import { verifyMcubootImage, verifyMcubootStream } from './mcuboot-image.verifier';
import {
  asyncOutcomeOf,
  outcomeOf,
  SampleEntry,
  sampleBytes,
  samplePublicKey,
  samplesIndex,
  sampleText,
  splitBytes,
  streamOf,
  trustedSampleKeys,
} from './testing/firmware-samples';

/**
 * Every file in firmware-samples/samples.json verifies, or fails with exactly the code it names.
 * The samples are made by generate.sh with openssl and python, independently of this lib.
 */
describe('firmware-samples/samples.json', () => {
  const keys = trustedSampleKeys();
  const { productId } = samplesIndex;

  async function verify(sample: SampleEntry, chunks?: number[]): Promise<FirmwareVerdict> {
    const bytes = sampleBytes(sample.file);
    if (sample.format === 'mcuboot') {
      return chunks ? verifyMcubootStream(streamOf(splitBytes(bytes, chunks)), keys) : verifyMcubootImage(bytes, keys);
    }
    const manifest = await verifyManifest(sampleText(sample.manifest!), keys, productId);
    return chunks ? verifyDetachedImageStream(streamOf(splitBytes(bytes, chunks)), manifest) : verifyDetachedImage(bytes, manifest);
  }

  it('lists the samples the brief asks for', () => {
    const files = new Set(samplesIndex.samples.map((s) => s.file));
    for (const f of [
      'good-ecdsa-p256.mcuboot.bin',
      'good-ed25519.mcuboot.bin',
      'good-rsa-pss.mcuboot.bin',
      'tampered-body.mcuboot.bin',
      'tampered-hash.mcuboot.bin',
      'tampered-signature.mcuboot.bin',
      'wrong-key.mcuboot.bin',
      'rollback.mcuboot.bin',
      'good.bin',
      'tampered.bin',
    ]) {
      expect(files).toContain(f);
    }
    expect(samplesIndex.samples.map((s) => s.manifest)).toEqual(expect.arrayContaining(['good.manifest.jws', 'wrong-key.manifest.jws']));
    expect(productId).toBe('prod-sample');
  });

  describe.each(samplesIndex.samples.map((s) => [`${s.file}${s.manifest ? ` + ${s.manifest}` : ''}`, s] as const))('%s', (_name, sample) => {
    it(`${sample.expect === 'ok' ? 'verifies' : `fails with ${sample.expect}`} (${sample.note})`, async () => {
      const outcome = await asyncOutcomeOf(() => verify(sample));
      expect(outcome).toBe(sample.expect);
    });

    it('gives the same outcome when streamed in uneven chunks', async () => {
      const whole = await asyncOutcomeOf(() => verify(sample));
      for (const sizes of [[1], [7, 1, 31], [4096], [33, 500, 2]]) {
        expect(await asyncOutcomeOf(() => verify(sample, sizes))).toBe(whole);
      }
    });

    if (sample.expect === 'ok') {
      it('reports version, counter, digests, size and signer as generated', async () => {
        const verdict = await verify(sample);
        const { imageHash, signature, flags, imageBytes, slotTrailer, ...common } = verdict as unknown as Record<string, unknown>;
        if (sample.format === 'mcuboot') {
          // The samples are unpadded, SHA-256, without header flags.
          expect({ imageHash, flags, imageBytes, slotTrailer }).toEqual({ imageHash: sample.digest, flags: [], imageBytes: sample.size, slotTrailer: null });
          expect(signature).toMatch(/^(ecdsa-p256|ed25519|rsa3072-pss)-sha256$/);
        }
        expect(common).toEqual({
          format: sample.format,
          version: sample.version,
          securityCounter: sample.securityCounter,
          digest: sample.digest,
          fileDigest: sample.fileDigest,
          size: sample.size,
          signerKeyId: sample.signerKeyId,
        });
        expect(verdict.signerKeyId).toBe(samplePublicKey(sample.signer!).keyId);
        const fileHash = createHash('sha256').update(sampleBytes(sample.file)).digest('hex');
        expect(verdict.fileDigest).toBe(`sha256:${fileHash}`);
      });

      it(`anti-rollback against the product minimum ${samplesIndex.productMinimumSecurityCounter}: ${sample.rollback}`, async () => {
        const verdict = await verify(sample);
        const result = checkRollback({
          reportedCounter: verdict.securityCounter,
          productMinimum: samplesIndex.productMinimumSecurityCounter,
          deviceLastSeen: null,
        });
        expect(result.ok ? 'ok' : result.reason).toBe(sample.rollback);
      });
    }
  });

  it('the wrong-key samples verify once their key is trusted (so they fail for the key alone)', async () => {
    const withOther = [...keys, samplePublicKey('other-p256')];
    const verdict = verifyMcubootImage(sampleBytes('wrong-key.mcuboot.bin'), withOther);
    expect(verdict.signerKeyId).toBe(samplesIndex.keys['other-p256'].keyId);
    const manifest = await verifyManifest(sampleText('wrong-key.manifest.jws'), withOther, productId);
    expect(manifest.signerKeyId).toBe(samplesIndex.keys['other-p256'].keyId);
  });

  it('an image whose only trusted key was revoked (left out of the key set) is signed by an unknown key', () => {
    const notEc = keys.filter((k) => k.keyId !== samplesIndex.keys['ec-p256'].keyId);
    expect(outcomeOf(() => verifyMcubootImage(sampleBytes('good-ecdsa-p256.mcuboot.bin'), notEc))).toBe('mcuboot.unknown-key');
    expect(outcomeOf(() => verifyMcubootImage(sampleBytes('good-ecdsa-p256.mcuboot.bin'), []))).toBe('mcuboot.unknown-key');
  });
});
