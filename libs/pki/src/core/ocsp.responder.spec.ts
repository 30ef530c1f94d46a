import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CertID, OCSPRequest, OCSPResponse, OCSPResponseStatus, Request, TBSRequest } from '@peculiar/asn1-ocsp';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { ocspErrorResponse, OcspRequestError, parseOcspRequest, serialForIssuer } from './ocsp.responder';

/** Requests made by openssl (not by us), then mutated and fuzzed: the parser either reads them or says malformedRequest. */
describe('OCSP request parsing', () => {
  let dir: string;
  let requestDer: Buffer;
  let issuer: Certificate;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-ocsp-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/ca.key`, '-out', `${dir}/ca.crt`, '-subj', '/CN=Some CA', '-days', '1'], { stdio: 'pipe' });
    execFileSync('openssl', ['ocsp', '-issuer', `${dir}/ca.crt`, '-serial', '0x00ff0102', '-serial', '0x7f', '-reqout', `${dir}/req.der`], { stdio: 'pipe' });
    requestDer = fs.readFileSync(`${dir}/req.der`);
    const pem = fs.readFileSync(`${dir}/ca.crt`, 'utf8');
    issuer = AsnConvert.parse(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'), Certificate);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads openssl\'s request: two CertIDs for this issuer, the serials, and the nonce', () => {
    const r = parseOcspRequest(requestDer);
    expect(r.certIds).toHaveLength(2);
    const id = { name: issuer.tbsCertificate.subject, publicKey: issuer.tbsCertificate.subjectPublicKeyInfo };
    expect(r.certIds.map((c) => serialForIssuer(c, id))).toEqual(['ff0102', '7f']);
    expect(r.nonceExtnValue?.length).toBeGreaterThan(2);
  });

  it('another issuer\'s CertID does not match', () => {
    const r = parseOcspRequest(requestDer);
    const other = { name: issuer.tbsCertificate.issuer, publicKey: { ...issuer.tbsCertificate.subjectPublicKeyInfo, subjectPublicKey: new ArrayBuffer(65) } };
    expect(serialForIssuer(r.certIds[0]!, other as never)).toBeUndefined();
  });

  it('refuses empty, oversized and trailing-garbage requests with malformedRequest', () => {
    for (const bad of [Buffer.alloc(0), Buffer.alloc(20_000, 0x30), Buffer.concat([requestDer, Buffer.from([0])])]) {
      expect(() => parseOcspRequest(bad)).toThrow(OcspRequestError);
    }
  });

  /** Inputs a fuzzer finds: DER that is not an OCSPRequest, a request whose parts are empty, deep nesting, not bytes at all. */
  const garbage = (): Array<[string, unknown]> => {
    // A well-formed request but for its CertID's serial: an INTEGER without content octets.
    const certId = new CertID({ hashAlgorithm: new AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26' }), issuerNameHash: new OctetString(20), issuerKeyHash: new OctetString(20), serialNumber: new ArrayBuffer(0) });
    const emptySerial = Buffer.from(AsnConvert.serialize(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId })] }) })));
    return [
      ['an empty SEQUENCE', Buffer.from([0x30, 0x00])],
      ['a SEQUENCE holding an empty SEQUENCE', Buffer.from([0x30, 0x02, 0x30, 0x00])],
      ['an INTEGER', Buffer.from([0x02, 0x01, 0x05])],
      ['5,000 nested indefinite-length SEQUENCEs', Buffer.concat([Buffer.alloc(10_000, 0).map((_, i) => (i % 2 ? 0x80 : 0x30)), Buffer.alloc(10_000, 0)]).subarray(0, 16_000)],
      ['a length running past the end', Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30])],
      ['a CertID with an empty serial', emptySerial],
      ['a string', 'MEUwQzBBMD8wPTAJBgUrDgMCGgUABBQ='],
      ['null', null],
      ['an array of numbers', [0x30, 0x00]],
    ];
  };

  it('answers garbage of every shape with malformedRequest, never another error', () => {
    for (const [what, input] of garbage()) {
      let thrown: unknown;
      try {
        parseOcspRequest(input as Uint8Array);
      } catch (e) {
        thrown = e;
      }
      expect({ what, error: thrown instanceof OcspRequestError ? 'OcspRequestError' : String(thrown) }).toEqual({ what, error: 'OcspRequestError' });
      expect((thrown as OcspRequestError).status).toBe(OCSPResponseStatus.malformedRequest);
    }
  });

  it('fuzz: random bytes and single-byte mutations of a real request never throw anything but OcspRequestError', () => {
    const check = (bytes: Uint8Array) => {
      try {
        parseOcspRequest(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(OcspRequestError);
        expect((e as OcspRequestError).status).toBe(OCSPResponseStatus.malformedRequest);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 500 });
    fc.assert(
      fc.property(fc.nat(requestDer.length - 1), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const m = Buffer.from(requestDer);
        m[i] = v;
        check(m);
      }),
      { numRuns: 500 },
    );
  });

  it('an error response is the bare OCSPResponse status openssl reads', () => {
    const der = ocspErrorResponse(OCSPResponseStatus.malformedRequest);
    expect(AsnConvert.parse(der, OCSPResponse).responseStatus).toBe(OCSPResponseStatus.malformedRequest);
    fs.writeFileSync(`${dir}/resp.der`, der);
    const r = spawnSync('openssl', ['ocsp', '-respin', `${dir}/resp.der`, '-resp_text', '-noverify'], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('malformedrequest');
  });
});
