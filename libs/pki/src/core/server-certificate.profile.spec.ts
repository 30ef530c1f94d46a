import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { DomainError } from '@fleetguard/common';
import { CaMaterial, CertificateAuthority } from './certificate-authority';
import { parseCsr } from './csr.check';
import { createTestCa, TEST_CRL_URL } from './testing/ca.factory';
import { OpensslWorkspace } from './testing/openssl.factory';

describe('CertificateAuthority.issueServerCertificate', () => {
  let ws: OpensslWorkspace;
  let material: CaMaterial;
  let ca: CertificateAuthority;
  let serverKey: KeyObject;
  let serverCertPem: string;

  beforeAll(async () => {
    ws = OpensslWorkspace.create();
    ({ material, ca } = await createTestCa());
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    serverKey = privateKey;
    const issued = await ca.issueServerCertificate({
      publicKeySpkiDer: publicKey.export({ type: 'spki', format: 'der' }),
      commonName: 'fleetguard',
      dnsNames: ['localhost', 'fleetguard'],
      ipAddresses: ['127.0.0.1', '::1'],
      validityDays: 30,
    });
    serverCertPem = issued.certificatePem;
    ws.write('root.pem', material.rootCertPem);
    ws.write('intermediate.pem', material.intermediateCertPem);
    ws.write('server.pem', serverCertPem);
  });
  afterAll(() => ws.cleanup());

  it('is a TLS server certificate for the names given, which openssl verifies', () => {
    const text = ws.openssl(['x509', '-in', 'server.pem', '-noout', '-text']);
    expect(text).toMatch(/Subject: CN = fleetguard\n/);
    expect(text).toMatch(/DNS:localhost, DNS:fleetguard, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);
    expect(text).toMatch(/Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
    expect(text).toMatch(/Key Usage: critical\n\s+Digital Signature\n/);
    expect(text).toMatch(/CA:FALSE/);
    const base = ['verify', '-CAfile', 'root.pem', '-untrusted', 'intermediate.pem'];
    expect(ws.openssl([...base, '-purpose', 'sslserver', '-verify_hostname', 'localhost', 'server.pem'])).toMatch(/OK/);
    expect(ws.openssl([...base, '-verify_ip', '127.0.0.1', 'server.pem'])).toMatch(/OK/);
    expect(ws.run([...base, '-purpose', 'sslclient', 'server.pem']).status).not.toBe(0);
  });

  it('cannot pass as a device certificate', () => {
    expect(() => ca.verifyDeviceCertificate(serverCertPem)).toThrow(expect.objectContaining({ code: 'cert.bad-profile' }));
  });

  it('serves a TLS handshake that a client trusting the root completes, with a device certificate as client', async () => {
    const devKey = ws.makeCsr('P-256');
    const device = await ca.issueDeviceCertificate({
      csr: await parseCsr(devKey.csrPem),
      deviceId: 'dev-tls',
      validityDays: 1,
      crlDistributionUrl: TEST_CRL_URL,
    });
    const server = tls.createServer({
      key: serverKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      cert: serverCertPem + material.intermediateCertPem,
      ca: ca.chainPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const peer = new Promise<string>((resolve) =>
      server.once('secureConnection', (socket) => {
        resolve(ca.verifyDeviceCertificate(socket.getPeerCertificate().raw).deviceId);
        socket.end();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = tls.connect({
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        servername: 'localhost',
        ca: material.rootCertPem,
        key: readFileSync(devKey.keyPath),
        cert: device.certificatePem + material.intermediateCertPem,
      });
      await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
      expect(client.authorized).toBe(true);
      expect(await peer).toBe('dev-tls');
      client.destroy();
    } finally {
      server.close();
    }
  });

  it.each<[string, Record<string, unknown>]>([
    ['no names', { dnsNames: [], ipAddresses: [] }],
    ['a wildcard', { dnsNames: ['*.example.com'] }],
    ['a name with a space', { dnsNames: ['bad host'] }],
    ['an invalid IP', { ipAddresses: ['300.1.1.1'] }],
  ])('refuses %s', async (_what, override) => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request = {
      publicKeySpkiDer: publicKey.export({ type: 'spki', format: 'der' }),
      commonName: 'fleetguard',
      dnsNames: ['localhost'],
      ipAddresses: [],
      validityDays: 30,
      ...override,
    };
    await expect(ca.issueServerCertificate(request as never)).rejects.toMatchObject({ code: 'pki.bad-server-name' });
    await expect(ca.issueServerCertificate(request as never)).rejects.toBeInstanceOf(DomainError);
  });
});
