import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { BootEvent, PcrValues, replayEventLog, jwsAlgorithmsFor, jwsSigningInput, signJwsInput } from '@fleetguard/attestation';

/** What signs a device's JWS (BuildEvidenceOptions.signer). */
export type EvidenceSigner = 'jose' | 'node:crypto';

export interface BuildEvidenceOptions {
  /** The device's private key (KeyObject or PKCS#8 PEM). */
  deviceKey: KeyObject | string;
  deviceId: string;
  /** The challenge nonce (base64url), as received. */
  nonce: string;
  fw: { productId: string; version: string; digest: string; securityCounter: number };
  events: BootEvent[];
  /** Reported PCRs; defaults to the replay of `events` (override to make inconsistent evidence). */
  pcrs?: PcrValues;
  /** Marshalled TPMS_ATTEST and TPMT_SIGNATURE, e.g. from SwtpmDriver.quote or buildSoftwareQuote. */
  tpm?: { quote: Uint8Array; signature: Uint8Array };
  /** Seconds since the epoch; defaults to now. */
  iat?: number;
  /** JWS algorithm; defaults to the first one the key allows (ES256, ES384, EdDSA, RS256). */
  alg?: string;
  /** Extra or overriding claims (for malformed-evidence tests). */
  extraClaims?: Record<string, unknown>;
  /**
   * What signs the JWS. `jose` (default): an implementation independent of the service's
   * verifier, so tests check one against the other. `node:crypto`: one-shot sign, about a quarter
   * of jose's CPU (WebCrypto job, promise): for load generators that share the machine with the
   * service they measure (bench). Same header, same payload bytes.
   */
  signer?: EvidenceSigner;
}

/** The first JWS algorithm each key allows, found once per key (a fleet signs with the same keys). */
const defaultAlgs = new WeakMap<KeyObject, string | undefined>();

function defaultAlg(key: KeyObject): string | undefined {
  if (!defaultAlgs.has(key)) defaultAlgs.set(key, jwsAlgorithmsFor(createPublicKey(key))[0]);
  return defaultAlgs.get(key);
}

/** Builds and signs an EAT as a device does (device simulator, unit and e2e tests). */
export async function buildEvidence(options: BuildEvidenceOptions): Promise<string> {
  const key = typeof options.deviceKey === 'string' ? createPrivateKey(options.deviceKey) : options.deviceKey;
  const alg = options.alg ?? defaultAlg(key);
  if (!alg) throw new Error('buildEvidence: unsupported device key type');
  const claims: Record<string, unknown> = {
    eat_nonce: options.nonce,
    ueid: options.deviceId,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    fw: { ...options.fw },
    boot: {
      alg: 'sha256',
      events: options.events.map((e) => ({ pcr: e.pcr, component: e.component, digest: e.digest })),
      pcrs: options.pcrs ?? replayEventLog(options.events),
    },
    ...(options.tpm
      ? { tpm: { quote: Buffer.from(options.tpm.quote).toString('base64'), signature: Buffer.from(options.tpm.signature).toString('base64') } }
      : {}),
    ...options.extraClaims,
  };
  if (options.signer === 'node:crypto') {
    const input = jwsSigningInput({ alg, typ: 'JWT' }, claims);
    return `${input}.${signJwsInput(input, alg, key)}`;
  }
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg, typ: 'JWT' })
    .sign(key);
}
