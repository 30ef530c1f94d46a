import { createPrivateKey, KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { isDomainError } from '@fleetguard/common';
import { SigningKey, signingKeyFromPem } from '../signing-key';

/** Test access to firmware-samples/ (made by its generate.sh with openssl, not by this lib). */
export const SAMPLES_DIR = resolve(__dirname, '..', '..', '..', '..', '..', 'firmware-samples');

export interface SampleEntry {
  readonly file: string;
  readonly format: 'mcuboot' | 'detached';
  /** `ok` or the DomainError code the verification must fail with. */
  readonly expect: string;
  readonly note: string;
  readonly manifest?: string;
  readonly version?: string;
  readonly securityCounter?: number | null;
  readonly digest?: string;
  readonly fileDigest?: string;
  readonly size?: number;
  readonly signer?: string;
  readonly signerKeyId?: string;
  readonly rollback?: 'ok' | 'below-product-minimum' | 'below-device-last-seen' | 'missing-counter';
}

export interface SamplesIndex {
  readonly productId: string;
  readonly productMinimumSecurityCounter: number;
  readonly trustedKeys: readonly string[];
  readonly keys: Readonly<Record<string, { private: string; public: string; keyId: string; mcubootKeyHashPkcs1?: string }>>;
  readonly samples: readonly SampleEntry[];
}

export const samplesIndex: SamplesIndex = JSON.parse(readFileSync(join(SAMPLES_DIR, 'samples.json'), 'utf8'));

export const sampleBytes = (file: string): Buffer => readFileSync(join(SAMPLES_DIR, file));
export const sampleText = (file: string): string => readFileSync(join(SAMPLES_DIR, file), 'utf8');

export const samplePublicKey = (name: string): SigningKey =>
  signingKeyFromPem(readFileSync(join(SAMPLES_DIR, samplesIndex.keys[name].public), 'utf8'));

export const samplePrivateKey = (name: string): KeyObject =>
  createPrivateKey(readFileSync(join(SAMPLES_DIR, samplesIndex.keys[name].private), 'utf8'));

export const trustedSampleKeys = (): SigningKey[] => samplesIndex.trustedKeys.map(samplePublicKey);

export const goodMcubootSamples = () => samplesIndex.samples.filter((s) => s.format === 'mcuboot' && s.expect === 'ok');

/** Splits `bytes` at the given sizes (cycled), for feeding verifiers in uneven chunks. */
export function splitBytes(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  let i = 0;
  while (offset < bytes.length) {
    const size = Math.max(1, sizes.length ? sizes[i++ % sizes.length] : bytes.length);
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** A Readable that yields exactly these chunks (object mode keeps the boundaries). */
export const streamOf = (chunks: readonly Buffer[]) => Readable.from(chunks);

/** `ok` or the DomainError code; any other exception is rethrown (and fails the test). */
export function outcomeOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (isDomainError(e)) return e.code;
    throw e;
  }
}

export async function asyncOutcomeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (e) {
    if (isDomainError(e)) return e.code;
    throw e;
  }
}
