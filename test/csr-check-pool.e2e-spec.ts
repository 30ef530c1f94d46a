import * as fs from 'node:fs';
import * as path from 'node:path';
import { DomainError } from '@fleetguard/common';
import { CertificateAuthority, parseCsr, writeDeviceCertificate } from '@fleetguard/pki';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { Workdir, openssl, opensslCsr } from './support/openssl';

/**
 * The CSR check pool as the built service runs it (dist/: the workers need compiled JavaScript):
 * the same results and the same error codes as parseCsr inline, for openssl's requests.
 */
describe('CsrCheckPool on worker threads (built service)', () => {
  const built = path.resolve(__dirname, '../dist/libs/pki/src/core/csr-check.pool.js');
  let pool: {
    mode: string;
    check(i: string | Buffer, o?: object): Promise<any>;
    checkAndIssue(i: string | Buffer, o: object, issue: unknown, key: unknown): Promise<{ csr: any; der: Buffer; pem: string }>;
    close(): Promise<void>;
  };
  let w: Workdir;
  beforeAll(() => {
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first (npm test does)`);
    const { CsrCheckPool } = require(built);
    pool = new CsrCheckPool(2);
    w = new Workdir();
  });
  afterAll(async () => {
    await pool?.close();
    w?.cleanup();
  });

  it("another worker thread that loads the pools' files keeps its own messages (the pools answer only in the workers they start)", async () => {
    // bench:broker's publishers ran in a worker thread whose imports loaded csr-check.pool.js: its
    // worker side took that thread's messages for CSR jobs and crashed it ("jobs.map is not a function").
    const { Worker } = await import('node:worker_threads');
    const jws = path.resolve(__dirname, '../dist/libs/attestation/src/core/jws.pool.js');
    const code = `
      require(${JSON.stringify(built)});
      require(${JSON.stringify(jws)});
      const { parentPort } = require('node:worker_threads');
      parentPort.on('message', (m) => parentPort.postMessage({ echoed: m }));`;
    const thread = new Worker(code, { eval: true });
    try {
      const reply = await new Promise((resolve, reject) => {
        thread.once('message', resolve);
        thread.once('error', reject);
        thread.postMessage({ t: 'not a job' });
      });
      expect(reply).toEqual({ echoed: { t: 'not a job' } });
    } finally {
      await thread.terminate();
    }
  });

  it('runs on workers and gives what parseCsr gives, for every accepted key type', async () => {
    expect(pool.mode).toBe('workers');
    for (const spec of ['P-256', 'P-384', 'Ed25519', 'RSA-2048'] as const) {
      const { csrPem } = opensslCsr(w, `k-${spec}`, spec, '/CN=pool-device/O=Pool Org');
      const [viaPool, inline] = await Promise.all([pool.check(csrPem), parseCsr(csrPem)]);
      expect(viaPool.keyType).toBe(inline.keyType);
      expect(viaPool.keyBits).toBe(inline.keyBits);
      expect(viaPool.subject).toBe(inline.subject);
      expect(viaPool.commonName).toBe('pool-device');
      expect(Buffer.compare(viaPool.publicKeySpkiDer, inline.publicKeySpkiDer)).toBe(0);
      expect(Buffer.compare(viaPool.raw, inline.raw)).toBe(0);
    }
  });

  it('refusals come back as the same DomainError codes (weak key, bad signature, garbage)', async () => {
    const weak = opensslCsr(w, 'weak', 'RSA-1024').csrPem;
    const good = opensslCsr(w, 'tamper', 'P-256');
    const der = Buffer.from(good.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] ^= 0x01; // inside the signature
    for (const [input, code] of [[weak, 'csr.key-not-allowed'], [der, 'csr.bad-signature'], ['garbage', 'csr.malformed']] as const) {
      const e = await pool.check(input).catch((x: unknown) => x);
      const inline = await parseCsr(input).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Error);
      expect((e as DomainError).code).toBe(code);
      expect((e as DomainError).code).toBe((inline as DomainError).code);
      expect((e as DomainError).kind).toBe('invalid');
    }
  });

  it('many requests in flight are all answered, each with its own key', async () => {
    const csrs = Array.from({ length: 12 }, (_, i) => opensslCsr(w, `many-${i}`, 'P-256').csrPem);
    const results = await Promise.all(csrs.map((c) => pool.check(c)));
    expect(new Set(results.map((r) => Buffer.from(r.publicKeySpkiDer).toString('hex'))).size).toBe(12);
  });

  it('checkAndIssue: the certificate written and signed on a worker is the one the CA writes inline (same TBS, verifies with openssl)', async () => {
    const passphrase = 'pool-test-passphrase-long-enough';
    const material = await CertificateAuthority.create({ passphrase });
    const ca = await CertificateAuthority.load(material, passphrase);
    const chain = w.write('pool-chain.pem', material.intermediateCertPem + material.rootCertPem);
    const tbsOf = (der: Uint8Array) => Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, Certificate).tbsCertificate));
    for (const spec of ['P-256', 'P-384', 'Ed25519', 'RSA-2048'] as const) {
      const { csrPem } = opensslCsr(w, `issue-${spec}`, spec);
      const issue = ca.deviceIssue({ deviceId: `fg-pool-${spec.toLowerCase()}`, validityDays: 30, crlDistributionUrl: 'http://ca.example/pki/crl', ocspUrl: 'http://ca.example/pki/ocsp' });
      const viaPool = await pool.checkAndIssue(csrPem, {}, issue, ca.workerKey);
      const inline = await writeDeviceCertificate(issue, await parseCsr(csrPem), ca.issuingSigner);
      expect(tbsOf(viaPool.der).equals(tbsOf(inline.der))).toBe(true);
      expect(viaPool.pem).toBe(`${Buffer.from(viaPool.der).toString('base64').match(/.{1,64}/g)!.join('\n').replace(/^/, '-----BEGIN CERTIFICATE-----\n')}\n-----END CERTIFICATE-----\n`);
      const v = openssl(['verify', '-CAfile', chain, w.write(`issued-${spec}.pem`, viaPool.pem)]);
      expect(v.stdout + v.stderr).toContain(': OK');
      expect(viaPool.csr.keyType).toBe((await parseCsr(csrPem)).keyType);
    }
    // A refused request is refused as by check, and nothing is signed.
    const issue = ca.deviceIssue({ deviceId: 'fg-pool-garbage', validityDays: 30, crlDistributionUrl: 'http://ca.example/pki/crl' });
    const e = await pool.checkAndIssue('garbage', {}, issue, ca.workerKey).catch((x: unknown) => x);
    expect((e as DomainError).code).toBe('csr.malformed');
  });
});
