/**
 * CA keys in a PKCS#11 token (SoftHSM2 in the tests, an HSM in production), through pkcs11js.
 *
 * The token is opened once (library, token by label, user PIN), the private key is found by
 * label and used for CKM_ECDSA over a digest computed here; the token answers r||s, which is
 * re-encoded as the DER ECDSA-Sig-Value X.509 carries (@noble/curves). The private key is never
 * read: only its handle is used. The public key comes from the public key object of the same label
 * (CKA_EC_PARAMS, CKA_EC_POINT), as a SubjectPublicKeyInfo (@peculiar/asn1-x509).
 *
 * Every failure at opening names what failed (Pkcs11SetupError.variable): the library, the token
 * label (with the labels found), the PIN (the token's refusal), the key label.
 */
import { createHash } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import * as pkcs11js from 'pkcs11js';
import { CaKeyAlgorithm, CaSigner } from './x509.signer';

export interface Pkcs11Options {
  module: string;
  tokenLabel: string;
  pin: string;
}

export class Pkcs11SetupError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'Pkcs11SetupError';
  }
}

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const CURVES: Record<string, { algorithm: CaKeyAlgorithm; hash: string; curve: typeof p256 | typeof p384; size: number }> = {
  '06082a8648ce3d030107': { algorithm: 'P-256', hash: 'sha256', curve: p256, size: 32 },
  '06052b81040022': { algorithm: 'P-384', hash: 'sha384', curve: p384, size: 48 },
};

function ckrName(e: unknown): string {
  const m = /CKR_[A-Z_]+/.exec((e as Error)?.message ?? '');
  return m ? m[0] : ((e as Error)?.message ?? String(e));
}

/** An open, logged-in session on one token. */
export class Pkcs11Token {
  private constructor(
    private readonly lib: pkcs11js.PKCS11,
    private readonly session: pkcs11js.Handle,
    readonly tokenLabel: string,
  ) {}

  static open(options: Pkcs11Options): Pkcs11Token {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(options.module);
    } catch (e) {
      throw new Pkcs11SetupError('FLEETGUARD_CA_PKCS11_MODULE', `cannot load the PKCS#11 library ${options.module} (${(e as Error).message})`);
    }
    try {
      lib.C_Initialize();
    } catch (e) {
      if (ckrName(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw new Pkcs11SetupError('FLEETGUARD_CA_PKCS11_MODULE', `${options.module} does not initialise (${ckrName(e)})`);
    }
    const labels: string[] = [];
    let slot: pkcs11js.Handle | undefined;
    for (const s of lib.C_GetSlotList(true)) {
      // A slot whose token cannot be read (SoftHSM2 answers CKR_GENERAL_ERROR for a token another
      // process is deleting) is named in the message and skipped: it must not hide the one asked for.
      let label: string;
      try {
        label = lib.C_GetTokenInfo(s).label.trim();
      } catch (e) {
        labels.push(`(unreadable: ${ckrName(e)})`);
        continue;
      }
      labels.push(`"${label}"`);
      if (label === options.tokenLabel && slot === undefined) slot = s;
    }
    if (slot === undefined) {
      throw new Pkcs11SetupError('FLEETGUARD_CA_PKCS11_TOKEN', `no token labelled "${options.tokenLabel}" in ${options.module} (tokens found: ${labels.join(', ') || 'none'})`);
    }
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, options.pin);
    } catch (e) {
      if (ckrName(e) !== 'CKR_USER_ALREADY_LOGGED_IN') {
        lib.C_CloseSession(session);
        throw new Pkcs11SetupError('FLEETGUARD_CA_PKCS11_PIN', `token "${options.tokenLabel}" refused the PIN (${ckrName(e)})`);
      }
    }
    return new Pkcs11Token(lib, session, options.tokenLabel);
  }

  private find(objectClass: number, label: string): pkcs11js.Handle | null {
    this.lib.C_FindObjectsInit(this.session, [
      { type: pkcs11js.CKA_CLASS, value: objectClass },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    try {
      return this.lib.C_FindObjects(this.session);
    } finally {
      this.lib.C_FindObjectsFinal(this.session);
    }
  }

  hasKey(label: string): boolean {
    return this.find(pkcs11js.CKO_PRIVATE_KEY, label) !== null;
  }

  /** The signer of the EC key pair labelled `label`; `variable` names the setting for errors. */
  signer(label: string, variable = 'FLEETGUARD_CA_PKCS11_KEY_LABEL'): Pkcs11Signer {
    const privateKey = this.find(pkcs11js.CKO_PRIVATE_KEY, label);
    if (!privateKey) throw new Pkcs11SetupError(variable, `no private key labelled "${label}" in token "${this.tokenLabel}"`);
    const publicKey = this.find(pkcs11js.CKO_PUBLIC_KEY, label);
    if (!publicKey) throw new Pkcs11SetupError(variable, `no public key labelled "${label}" beside the private key in token "${this.tokenLabel}"`);
    const attrs = this.lib.C_GetAttributeValue(this.session, publicKey, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]);
    const params = attrs[0]?.value as Buffer | undefined;
    const curve = params ? CURVES[params.toString('hex')] : undefined;
    if (!params || !curve) throw new Pkcs11SetupError(variable, `key "${label}" is not an ECDSA P-256 or P-384 key`);
    const point = Buffer.from(AsnConvert.parse(attrs[1]!.value as Buffer, OctetString).buffer);
    const spki = new SubjectPublicKeyInfo({
      algorithm: new AlgorithmIdentifier({ algorithm: OID_EC_PUBLIC_KEY, parameters: new Uint8Array(params).buffer }),
      subjectPublicKey: new Uint8Array(point).buffer,
    });
    return new Pkcs11Signer(this.lib, this.session, privateKey, curve, spki);
  }

  /** Makes an EC key pair in the token: private key sensitive, never extractable. */
  generateKey(label: string, algorithm: CaKeyAlgorithm = 'P-256'): void {
    const params = Object.entries(CURVES).find(([, c]) => c.algorithm === algorithm)?.[0];
    if (!params) throw new Pkcs11SetupError('FLEETGUARD_CA_PKCS11_KEY_LABEL', `cannot make a ${algorithm} key in a token`);
    const id = createHash('sha1').update(label).digest();
    this.lib.C_GenerateKeyPair(
      this.session,
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: id },
        { type: pkcs11js.CKA_VERIFY, value: true },
        { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from(params, 'hex') },
      ],
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: id },
        { type: pkcs11js.CKA_SIGN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      ],
    );
  }

  close(): void {
    try {
      this.lib.C_Logout(this.session);
      this.lib.C_CloseSession(this.session);
    } catch {
      /* already closed */
    }
  }
}

export class Pkcs11Signer implements CaSigner {
  readonly keyAlgorithm: CaKeyAlgorithm;

  constructor(
    private readonly lib: pkcs11js.PKCS11,
    private readonly session: pkcs11js.Handle,
    private readonly key: pkcs11js.Handle,
    private readonly curve: (typeof CURVES)[string],
    readonly publicKey: SubjectPublicKeyInfo,
  ) {
    this.keyAlgorithm = curve.algorithm;
  }

  get publicKeySpkiDer(): Buffer {
    return Buffer.from(AsnConvert.serialize(this.publicKey));
  }

  sign(data: Buffer): Promise<Buffer> {
    const digest = createHash(this.curve.hash).update(data).digest();
    // One session, calls made one at a time on this thread: SignInit and Sign cannot interleave.
    this.lib.C_SignInit(this.session, { mechanism: pkcs11js.CKM_ECDSA }, this.key);
    const rs = this.lib.C_Sign(this.session, digest, Buffer.alloc(2 * this.curve.size));
    return Promise.resolve(Buffer.from(this.curve.curve.Signature.fromBytes(rs, 'compact').toBytes('der')));
  }
}
