import { generateKeyPairSync, sign, webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import { DomainError } from '@fleetguard/common';
import { parseCsr, readCsrWithSchema } from './csr.check';
import { CsrParts, readDeviceCsr } from './device-csr.reader';
import { OpensslKeyKind, OpensslWorkspace } from './testing/openssl.factory';
import { x509 } from './x509.platform';

const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** DER TLV with a definite length, written here only to build test requests of chosen shapes. */
function tlv(tag: number, content: Buffer, nonMinimal = false): Buffer {
  const n = content.length;
  const head = nonMinimal ? [tag, 0x82, n >> 8, n & 0xff] : n >= 0x80 ? (n < 0x100 ? [tag, 0x81, n] : [tag, 0x82, n >> 8, n & 0xff]) : [tag, n];
  return Buffer.concat([Buffer.from(head), content]);
}

/** A request signed with `key` from parts given as DER (so a test can choose each one). */
function signedRequest(parts: { subject: Buffer; spki: Buffer; attributes?: Buffer; algorithm?: Buffer; hash?: string }, key: Parameters<typeof sign>[2]): Buffer {
  const info = tlv(0x30, Buffer.concat([Buffer.from('020100', 'hex'), parts.subject, parts.spki, parts.attributes ?? Buffer.from('a000', 'hex')]));
  const algorithm = parts.algorithm ?? Buffer.from('300a06082a8648ce3d040302', 'hex');
  const signature = sign(parts.hash ?? 'sha256', info, key);
  return tlv(0x30, Buffer.concat([info, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
}

/** What the schema parser makes of the request, in the fast reader's terms; or the error it throws. */
function schemaParts(der: Buffer): (CsrParts & { description: string }) | { error: unknown } | { undescribed: unknown; spki: Uint8Array } {
  let p: ReturnType<typeof readCsrWithSchema>;
  try {
    p = readCsrWithSchema(der);
  } catch (error) {
    return { error };
  }
  try {
    const name = p.subjectName();
    return { info: p.info, subject: Buffer.from(AsnConvert.serialize(name)), spki: p.spki, signatureAlgorithm: p.signatureAlgorithm, signature: p.signature, description: new x509.Name(name).toString() };
  } catch (undescribed) {
    // The schema parser read the request, but its subject does not encode again (a value the
    // ASN.1 library refuses to convert, e.g. a UTCTime tag on a name's text): this helper's own
    // step, not the parser's refusal.
    return { undescribed, spki: p.spki };
  }
}

/** The fast reader's parts must be the schema parser's, byte for byte, and describe the same subject. */
function expectSameAsSchema(der: Buffer, fast: CsrParts): void {
  const full = schemaParts(der);
  if ('error' in full) throw new Error(`the fast reader took ${der.toString('hex')}, which the schema parser refuses: ${String(full.error)}`);
  if ('undescribed' in full) throw new Error(`the fast reader took ${der.toString('hex')}, whose subject does not encode again: ${String(full.undescribed)}`);
  expect({ info: hex(fast.info), subject: hex(fast.subject), spki: hex(fast.spki), signatureAlgorithm: fast.signatureAlgorithm, signature: hex(fast.signature) }).toEqual({
    info: hex(full.info),
    subject: hex(full.subject),
    spki: hex(full.spki),
    signatureAlgorithm: full.signatureAlgorithm,
    signature: hex(full.signature),
  });
  expect(new x509.Name(AsnConvert.parse(fast.subject, Name)).toString()).toBe(full.description);
}

describe('readDeviceCsr (the fast path of parseCsr)', () => {
  let ws: OpensslWorkspace;
  beforeAll(() => {
    ws = OpensslWorkspace.create();
  });
  afterAll(() => ws.cleanup());

  describe('reads device requests as the schema parser does', () => {
    it.each<[OpensslKeyKind, string, string]>([
      ['P-256', '/CN=device-requested-name/O=Requested Org', 'sha256'],
      ['P-256', '/C=DE/ST=Bayern/L=Munich/O=Acme, Inc./OU=Line 3+CN=multi valued/emailAddress=ops@example.com', 'sha384'],
      ['P-384', '/CN=pending', 'sha384'],
      ['P-384', '/CN=x', 'sha512'],
      ['P-256', '/CN= leading and trailing spaces /O=#hash;semi=eq"quote\\\\back<lt>', 'sha256'],
    ])('openssl req -new, %s key, subject %s, %s', (kind, subject, digest) => {
      const { keyPath } = ws.makeCsr(kind);
      ws.openssl(['req', '-new', '-key', keyPath, `-${digest}`, '-subj', subject, '-multivalue-rdn', '-out', 'r.csr']);
      const der = pemToDer(ws.read('r.csr').toString());
      const fast = readDeviceCsr(der);
      expect(fast).toBeDefined();
      expectSameAsSchema(der, fast!);
    });

    it('a request made with @peculiar/x509 (as the benches and the device simulator make them)', async () => {
      const crypto = webcrypto as unknown as Crypto;
      const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
      const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=pending', keys, signingAlgorithm: alg }, crypto);
      const der = Buffer.from(csr.rawData);
      const fast = readDeviceCsr(der);
      expect(fast).toBeDefined();
      expectSameAsSchema(der, fast!);
      expect((await parseCsr(csr.toString('pem'))).commonName).toBe('pending');
    });

    it('an empty subject', () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const der = signedRequest({ subject: Buffer.from('3000', 'hex'), spki: publicKey.export({ type: 'spki', format: 'der' }) }, privateKey);
      const fast = readDeviceCsr(der);
      expect(fast).toBeDefined();
      expectSameAsSchema(der, fast!);
    });
  });

  it('a name value tagged as a UTCTime that is none, signed as it is: taken, its subject described in hex (RFC 4514)', async () => {
    // The fuzz below found it as a flipped byte (UTF8String 0x0c ^ 0x1b = UTCTime 0x17; there the
    // signature fails first): the ASN.1 library reads the name but will not encode it again, which
    // this file's schemaParts does to compare the parsers' subjects.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const subject = tlv(0x30, tlv(0x31, tlv(0x30, Buffer.concat([Buffer.from('0603550403', 'hex'), tlv(0x17, Buffer.from('pending'))]))));
    const der = signedRequest({ subject, spki }, privateKey);
    expect(readDeviceCsr(der)).toBeUndefined(); // not a string the fast reader takes: the schema parser reads it
    const full = schemaParts(der);
    expect('undescribed' in full && hex(full.spki)).toBe(hex(spki));
    const parsed = await parseCsr(der);
    expect(hex(parsed.publicKeySpkiDer)).toBe(hex(spki));
    // Described as RFC 4514 does a value that is not a string: its DER in hex after '#'.
    expect(parsed.subject).toBe(`CN=#${hex(tlv(0x17, Buffer.from('pending')))}`);
  });

  describe('leaves every other request to the schema parser', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const cn = (value: Buffer, tag = 0x0c) => tlv(0x30, tlv(0x31, tlv(0x30, Buffer.concat([Buffer.from('0603550403', 'hex'), tlv(tag, value)]))));

    it.each<[string, () => Buffer]>([
      ['an RSA key', () => pemToDer(ws.makeCsr('RSA-2048').csrPem)],
      ['an Ed25519 key', () => pemToDer(ws.makeCsr('Ed25519').csrPem)],
      ['a P-521 key', () => pemToDer(ws.makeCsr('P-521').csrPem)],
      ['requested extensions (an attribute)', () => pemToDer(ws.makeCsr('P-256', { addext: ['subjectAltName=DNS:evil.example'] }).csrPem)],
      ['a non-minimal (long form) length', () => {
        const der = pemToDer(ws.makeCsr('P-256').csrPem);
        return tlv(0x30, der.subarray(der[1] === 0x81 ? 3 : 2), true);
      }],
      ['a compressed point', () => {
        const compressed = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
        const point = Buffer.concat([Buffer.from([0x02 | (spki[spki.length - 1] & 1)]), compressed]);
        return signedRequest({ subject: cn(Buffer.from('x')), spki: tlv(0x30, Buffer.concat([spki.subarray(2, 23), tlv(0x03, Buffer.concat([Buffer.from([0]), point]))])) }, privateKey);
      }],
      ['signature algorithm parameters', () => signedRequest({ subject: cn(Buffer.from('x')), spki, algorithm: Buffer.from('300c06082a8648ce3d0403020500', 'hex') }, privateKey)],
      ['a non-ASCII subject', () => signedRequest({ subject: cn(Buffer.from('Gerät', 'utf8')), spki }, privateKey)],
      ['a BMPString subject', () => signedRequest({ subject: cn(Buffer.from('0078', 'hex'), 0x1e), spki }, privateKey)],
      ['an empty RDN', () => signedRequest({ subject: tlv(0x30, Buffer.from('3100', 'hex')), spki }, privateKey)],
      ['a non-minimal OID', () => signedRequest({ subject: tlv(0x30, tlv(0x31, tlv(0x30, Buffer.concat([Buffer.from('0604805504 03'.replace(/ /g, ''), 'hex'), tlv(0x0c, Buffer.from('x'))])))), spki }, privateKey)],
      ['a version other than 0', () => {
        const der = signedRequest({ subject: cn(Buffer.from('x')), spki }, privateKey);
        const at = der.indexOf(Buffer.from('020100', 'hex'));
        der[at + 2] = 1;
        return der;
      }],
      ['trailing bytes', () => Buffer.concat([signedRequest({ subject: cn(Buffer.from('x')), spki }, privateKey), Buffer.from([0])])],
    ])('%s', async (_what, make) => {
      const der = make();
      expect(readDeviceCsr(der)).toBeUndefined();
      // ...and parseCsr still answers as the schema parser decides.
      const full = schemaParts(der);
      const outcome = await parseCsr(der).then(
        (p) => ({ ok: hex(p.publicKeySpkiDer) }),
        (e: DomainError) => ({ code: e.code }),
      );
      if ('error' in full) expect(outcome).toEqual({ code: (full.error as DomainError).code });
      else if ('ok' in outcome) expect(outcome.ok).toBe(hex(full.spki));
      else expect(outcome.code).toMatch(/^csr\./);
    });
  });

  describe('on mutated requests (fuzz)', () => {
    let seeds: Buffer[];
    beforeAll(() => {
      seeds = [
        pemToDer(ws.makeCsr('P-256', { subject: '/CN=device-1/O=Org' }).csrPem),
        pemToDer(ws.makeCsr('P-384', { subject: '/CN=pending' }).csrPem),
      ];
    });

    /** Byte flips, inserted and deleted bytes, cuts and changed lengths of a device request. */
    const mutation = fc.record({
      seed: fc.nat({ max: 1 }),
      edits: fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
          fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x01, 0x30, 0x31, 0x0c, 0x13, 0x80, 0x81, 0x82, 0xa0, 0xff) }),
          fc.record({ op: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
          fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
          fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
        ),
        { minLength: 1, maxLength: 3 },
      ),
    });
    const mutate = (m: { seed: number; edits: Array<{ op: string; at: number; mask?: number; value?: number }> }) => {
      let der = Buffer.from(seeds[m.seed]);
      for (const e of m.edits) {
        const at = e.at % Math.max(1, der.length);
        if (e.op === 'flip') der[at] ^= e.mask!;
        else if (e.op === 'set') der[at] = e.value!;
        else if (e.op === 'insert') der = Buffer.concat([der.subarray(0, at), Buffer.from([e.value!]), der.subarray(at)]);
        else if (e.op === 'delete') der = Buffer.concat([der.subarray(0, at), der.subarray(at + 1)]);
        else der = der.subarray(0, at);
      }
      return der;
    };

    it('whatever the fast reader takes, the schema parser takes with the same parts; it never throws', () => {
      let taken = 0;
      fc.assert(
        fc.property(mutation, (m) => {
          const der = mutate(m);
          const fast = readDeviceCsr(der);
          if (fast) {
            taken++;
            expectSameAsSchema(der, fast);
          }
        }),
        { numRuns: 5000 },
      );
      // Flips inside the key, the signature or a name's text keep the shape: the property was exercised.
      expect(taken).toBeGreaterThan(500);
    });

    it('parseCsr answers every mutated request with a result or a csr.* refusal, the same one the schema parser leads to', async () => {
      await fc.assert(
        fc.asyncProperty(mutation, async (m) => {
          const der = mutate(m);
          const outcome = await parseCsr(der).then(
            (p) => ({ spki: hex(p.publicKeySpkiDer), subject: p.subject }),
            (e: unknown) => {
              if (!(e instanceof DomainError)) throw e;
              return { code: e.code };
            },
          );
          if ('code' in outcome) expect(outcome.code).toMatch(/^csr\./);
          const full = schemaParts(der);
          // A request the schema parser refuses as malformed is refused as malformed by parseCsr too.
          if ('error' in full) expect(outcome).toEqual({ code: (full.error as DomainError).code });
          // Read by the schema parser, its subject not encodable again: refused (csr.*, above) or read with the same key.
          else if ('undescribed' in full) expect('spki' in outcome ? outcome.spki : hex(full.spki)).toBe(hex(full.spki));
          else if ('spki' in outcome) expect(outcome).toEqual({ spki: hex(full.spki), subject: full.description });
        }),
        { numRuns: 2000 },
      );
    });
  });
});
