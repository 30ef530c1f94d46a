import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import { invalid } from '@fleetguard/common';
import { CborTag, decodeCbor, expectArray, expectBytes, expectInt, expectMap, expectTag, expectText } from './cbor.codec';
import { COSE_SIGN1_TAG, CoseSign1, keyFitsAlg, parseCoseSign1, verifyCoseSign1 } from './cose-sign1.verifier';

/**
 * CoRIM (draft-ietf-rats-corim) as the PSA profile uses it (draft-fdb-rats-psa-endorsements,
 * Veraison's `psa-iot` scheme): an unsigned CoRIM (tag 501) or a COSE_Sign1-signed one
 * (tag 18 whose payload is the tag-501 map), holding CoMIDs (tag 506, bstr-wrapped) whose
 * reference triples describe PSA software components of an implementation and whose
 * attest-key triples give the IAK of an instance. Only the PSA profile is read; anything the
 * profile forbids is refused, naming where and what.
 */

export const CORIM_TAG = 501;
export const COMID_TAG = 506;
export const CORIM_PSA_PROFILES = ['tag:arm.com,2025:psa#1.0.0', 'http://arm.com/psa/iot/1', 'tag:arm.com,2023:psa#1.0.0'] as const;
const TAG_URI = 32;
const TAG_UUID = 37;
const TAG_UEID = 550;
const TAG_PKIX_BASE64_KEY = 554;
const TAG_TAGGED_BYTES = 560;
const TAG_PSA_IMPL_ID = 600;
/** IANA Named Information hash algorithms. */
const DIGEST_ALGS: Record<number, { name: string; size: number }> = { 1: { name: 'sha-256', size: 32 }, 7: { name: 'sha-384', size: 48 }, 8: { name: 'sha-512', size: 64 } };
const ALLOWED_TAGS = [COSE_SIGN1_TAG, CORIM_TAG, COMID_TAG, TAG_URI, TAG_UUID, TAG_UEID, TAG_PKIX_BASE64_KEY, TAG_TAGGED_BYTES, TAG_PSA_IMPL_ID, 1, 111, 505, 508, 552, 553, 555, 556, 557, 558, 559];
export const CORIM_MAX_BYTES = 1024 * 1024;

export const CORIM_ERROR = {
  malformed: 'corim-malformed',
  profileMissing: 'corim-profile-missing',
  profileUnsupported: 'corim-profile-unsupported',
  signatureInvalid: 'corim-signature-invalid',
  /** A PSA profile rule is broken (sizes, key counts, missing digests). */
  psaInvalid: 'corim-psa-invalid',
  empty: 'corim-empty',
} as const;

export interface CorimReferenceValue {
  implementationId: Buffer;
  vendor: string | null;
  model: string | null;
  measurementType: string | null;
  version: string | null;
  signerIds: Buffer[];
  digests: Array<{ alg: number; value: Buffer }>;
}

export interface CorimAttestKey {
  implementationId: Buffer;
  instanceId: Buffer;
  publicKeyPem: string;
}

export interface ParsedCorim {
  id: string;
  profile: string;
  signed: boolean;
  sha256: string;
  referenceValues: CorimReferenceValue[];
  attestKeys: CorimAttestKey[];
}

const M = CORIM_ERROR.malformed;
const P = CORIM_ERROR.psaInvalid;

/**
 * Parses a CoRIM. `signed` tells the content type the manufacturer sent (`application/rim+cose`
 * true, `application/rim+cbor` false). A signed CoRIM must verify with one of `keys`.
 */
export function parseCorim(bytes: Uint8Array, opts: { signed: boolean; keys?: KeyObject[] }): ParsedCorim {
  if (bytes.length === 0) throw invalid(M, 'the CoRIM is empty');
  if (bytes.length > CORIM_MAX_BYTES) throw invalid(M, `the CoRIM is larger than ${CORIM_MAX_BYTES} bytes`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let body: unknown;
  if (opts.signed) {
    let cose: CoseSign1;
    try {
      cose = parseCoseSign1(bytes, 'signed CoRIM');
    } catch (e) {
      throw invalid(M, (e as Error).message);
    }
    const keys = (opts.keys ?? []).filter((k) => keyFitsAlg(k, cose.algId));
    if (!keys.length) throw invalid(CORIM_ERROR.signatureInvalid, `the CoRIM is signed with ${cose.alg}, and the product has no active signing key for it`);
    if (!keys.some((k) => verifies(cose, k))) throw invalid(CORIM_ERROR.signatureInvalid, `the CoRIM signature (${cose.alg}) verifies with none of the product's signing keys`);
    body = decodeCbor(cose.payload, { code: M, what: 'signed CoRIM payload', tags: ALLOWED_TAGS });
  } else {
    body = decodeCbor(bytes, { code: M, what: 'CoRIM', tags: ALLOWED_TAGS });
    if (body instanceof CborTag && body.tag === COSE_SIGN1_TAG) throw invalid(M, 'this CoRIM is COSE_Sign1-signed: send it as application/rim+cose');
  }
  const corim = expectMap(expectTag(body, CORIM_TAG, M, 'the CoRIM'), M, 'the CoRIM (tag 501)');
  const idRaw = corim.get(0);
  const id = typeof idRaw === 'string' ? expectText(idRaw, M, 'corim-id', 200) : idRaw instanceof CborTag && idRaw.tag === TAG_UUID ? expectBytes(idRaw.value, M, 'corim-id (uuid)', [16]).toString('hex') : null;
  if (id === null) throw invalid(M, 'corim-id (0) must be a text or a tagged UUID');
  const profileRaw = corim.get(3);
  if (profileRaw === undefined) throw invalid(CORIM_ERROR.profileMissing, `CoRIM '${id}' names no profile (3); Fleetguard reads the PSA profile (${CORIM_PSA_PROFILES[0]})`);
  const profile = profileRaw instanceof CborTag && profileRaw.tag === TAG_URI ? expectText(profileRaw.value, M, 'profile (3)') : null;
  if (profile === null || !(CORIM_PSA_PROFILES as readonly string[]).includes(profile)) {
    throw invalid(CORIM_ERROR.profileUnsupported, `CoRIM '${id}' profile ${profile ? `'${profile}'` : 'is not a URI and'} is not a PSA profile (${CORIM_PSA_PROFILES.join(', ')})`);
  }
  const tags = expectArray(corim.get(1), M, 'CoRIM tags (1)');
  const out: ParsedCorim = { id, profile, signed: opts.signed, sha256, referenceValues: [], attestKeys: [] };
  tags.forEach((t, i) => {
    if (!(t instanceof CborTag) || t.tag !== COMID_TAG) throw invalid(P, `CoRIM tag ${i} is not a CoMID (tag 506); the PSA profile carries CoMIDs only`);
    const comid = expectMap(decodeCbor(expectBytes(t.value, M, `CoMID ${i}`), { code: M, what: `CoMID ${i}`, tags: ALLOWED_TAGS }), M, `CoMID ${i}`);
    const triples = expectMap(comid.get(4), M, `CoMID ${i} triples (4)`);
    const refs = triples.get(0);
    if (refs !== undefined) expectArray(refs, M, `CoMID ${i} reference-triples`).forEach((r, j) => out.referenceValues.push(...referenceTriple(r, `CoMID ${i} reference-triple ${j}`)));
    const aks = triples.get(3);
    if (aks !== undefined) expectArray(aks, M, `CoMID ${i} attest-key-triples`).forEach((r, j) => out.attestKeys.push(attestKeyTriple(r, `CoMID ${i} attest-key-triple ${j}`)));
  });
  if (!out.referenceValues.length && !out.attestKeys.length) throw invalid(CORIM_ERROR.empty, `CoRIM '${id}' has neither PSA reference triples nor attest-key triples`);
  return out;
}

function verifies(cose: CoseSign1, key: KeyObject): boolean {
  try {
    verifyCoseSign1(cose, key, 'signed CoRIM');
    return true;
  } catch {
    return false;
  }
}

function psaClass(env: unknown, where: string): { implementationId: Buffer; vendor: string | null; model: string | null; instance: unknown } {
  const e = expectMap(env, M, `${where} environment`);
  const cls = expectMap(e.get(0), P, `${where} environment class (0)`);
  const idRaw = cls.get(0);
  if (!(idRaw instanceof CborTag) || (idRaw.tag !== TAG_TAGGED_BYTES && idRaw.tag !== TAG_PSA_IMPL_ID)) throw invalid(P, `${where}: the class id must be a PSA implementation id (tagged bytes, 560 or 600)`);
  const impl = expectBytes(idRaw.value, P, `${where}: implementation id`);
  if (impl.length !== 32) throw invalid(P, `${where}: implementation id is ${impl.length} bytes, the PSA profile requires 32`);
  const text = (k: number) => (cls.has(k) ? expectText(cls.get(k), M, `${where} class ${k}`, 256) : null);
  return { implementationId: impl, vendor: text(1), model: text(2), instance: e.get(1) };
}

function referenceTriple(t: unknown, where: string): CorimReferenceValue[] {
  const [env, measurements] = expectArray(t, M, where);
  const cls = psaClass(env, where);
  return expectArray(measurements, M, `${where} measurements`).map((mm, k) => {
    const w = `${where} measurement ${k}`;
    const m = expectMap(mm, M, w);
    const mkey = m.get(0);
    if (mkey !== undefined && mkey !== 'psa.software-component') throw invalid(P, `${w}: measurement key ${JSON.stringify(typeof mkey === 'string' ? mkey : String(mkey))} is not 'psa.software-component'`);
    const v = expectMap(m.get(1), M, `${w} values (1)`);
    const versionMap = v.get(0);
    const version = versionMap === undefined ? null : expectText(expectMap(versionMap, M, `${w} version (0)`).get(0), M, `${w} version`, 256);
    const digestsRaw = v.get(2);
    if (digestsRaw === undefined) throw invalid(P, `${w}: digests (2) are missing; the PSA profile requires the measurement value`);
    const digests = expectArray(digestsRaw, M, `${w} digests`).map((d, n) => {
      const [algRaw, value] = expectArray(d, M, `${w} digest ${n}`);
      const alg = expectInt(algRaw, M, `${w} digest ${n} algorithm`);
      const known = DIGEST_ALGS[alg];
      if (!known) throw invalid(P, `${w}: digest algorithm ${alg} is not sha-256 (1), sha-384 (7) or sha-512 (8)`);
      return { alg, value: expectBytes(value, P, `${w}: ${known.name} digest`, [known.size]) };
    });
    if (!digests.length) throw invalid(P, `${w}: digests (2) is empty`);
    const name = v.has(11) ? expectText(v.get(11), M, `${w} name (11)`, 256) : null;
    const keys = v.has(13) ? expectArray(v.get(13), M, `${w} cryptokeys (13)`) : [];
    const signerIds = keys.map((key, n) => {
      if (!(key instanceof CborTag) || key.tag !== TAG_TAGGED_BYTES) throw invalid(P, `${w}: signer id ${n} must be tagged bytes (560)`);
      const b = expectBytes(key.value, P, `${w}: signer id ${n}`);
      if (![32, 48, 64].includes(b.length)) throw invalid(P, `${w}: signer id is ${b.length} bytes, the PSA profile requires 32, 48 or 64`);
      return b;
    });
    return { implementationId: cls.implementationId, vendor: cls.vendor, model: cls.model, measurementType: name, version, signerIds, digests };
  });
}

function attestKeyTriple(t: unknown, where: string): CorimAttestKey {
  const [env, keys] = expectArray(t, M, where);
  const cls = psaClass(env, where);
  if (!(cls.instance instanceof CborTag) || cls.instance.tag !== TAG_UEID) throw invalid(P, `${where}: the instance (1) must be a UEID (tag 550)`);
  const instanceId = expectBytes(cls.instance.value, P, `${where}: instance id`);
  if (instanceId.length !== 33 || instanceId[0] !== 0x01) throw invalid(P, `${where}: instance id must be a 33-byte RAND UEID (0x01 first), not ${instanceId.length} bytes starting 0x${(instanceId[0] ?? 0).toString(16)}`);
  const list = expectArray(keys, M, `${where} keys`);
  if (list.length !== 1) throw invalid(P, `${where}: has ${list.length} verification keys, the PSA profile requires exactly 1`);
  const k = list[0];
  if (!(k instanceof CborTag) || k.tag !== TAG_PKIX_BASE64_KEY) throw invalid(P, `${where}: the key must be a pkix-base64-key (tag 554)`);
  const pem = expectText(k.value, P, `${where}: key`, 8192);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw invalid(P, `${where}: the key is not a readable PEM public key`);
  }
  if (key.asymmetricKeyType !== 'ec' || !['prime256v1', 'secp384r1', 'secp521r1'].includes(key.asymmetricKeyDetails?.namedCurve ?? '')) throw invalid(P, `${where}: the IAK must be EC P-256, P-384 or P-521`);
  return { implementationId: cls.implementationId, instanceId, publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString() };
}

/** A JSON view (hex for bytes), for the import answer and `fleetctl corim inspect`. */
export function corimView(c: ParsedCorim) {
  return {
    id: c.id,
    profile: c.profile,
    signed: c.signed,
    sha256: c.sha256,
    referenceValues: c.referenceValues.map((r) => ({
      implementationId: r.implementationId.toString('hex'),
      vendor: r.vendor,
      model: r.model,
      measurementType: r.measurementType,
      version: r.version,
      signerIds: r.signerIds.map((s) => s.toString('hex')),
      digests: r.digests.map((d) => ({ alg: DIGEST_ALGS[d.alg].name, value: d.value.toString('hex') })),
    })),
    attestKeys: c.attestKeys.map((a) => ({ implementationId: a.implementationId.toString('hex'), instanceId: a.instanceId.toString('hex'), publicKeyPem: a.publicKeyPem })),
  };
}
