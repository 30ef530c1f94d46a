import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsr } from '@fleetguard/pki';
import { createCsrPem, CSR_SUBJECT, DEVICE_KEY_TYPES, DeviceKeyType, generateDeviceKey } from './device-key.generator';

function openssl(args: string[], dir: string) {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('device keys and CSRs', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'device-sim-csr-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const expectedKey: Record<DeviceKeyType, RegExp> = {
    'P-256': /ASN1 OID: prime256v1/,
    'P-384': /ASN1 OID: secp384r1/,
    Ed25519: /ED25519/i,
    'RSA-2048': /Public-Key: \(2048 bit\)/,
  };
  const pkiKeyType: Record<DeviceKeyType, string> = { 'P-256': 'P-256', 'P-384': 'P-384', Ed25519: 'Ed25519', 'RSA-2048': 'RSA' };

  it.each(DEVICE_KEY_TYPES.map((t) => [t]))('%s: openssl verifies the self-signature; subject CN=pending; the CA accepts it', async (type) => {
    const key = await generateDeviceKey(type);
    const pem = await createCsrPem(key);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\r?\n[\s\S]+-----END CERTIFICATE REQUEST-----\s*$/);
    const file = join(dir, `${type}.csr`);
    writeFileSync(file, pem);

    const verify = openssl(['req', '-in', file, '-noout', '-verify'], dir);
    expect(verify.status).toBe(0);
    expect(verify.out).toMatch(/verify OK/i);

    const text = openssl(['req', '-in', file, '-noout', '-text', '-subject', '-nameopt', 'RFC2253'], dir);
    expect(text.status).toBe(0);
    expect(text.out).toContain(`subject=${CSR_SUBJECT}`);
    expect(text.out).toMatch(expectedKey[type]);

    // What the service's enrollment does with it: proof of possession and key policy.
    const parsed = await parseCsr(pem);
    expect(parsed.keyType).toBe(pkiKeyType[type]);
    expect(parsed.commonName).toBe('pending');
    expect(parsed.publicKeySpkiDer.equals(key.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('a request whose signature was altered does not pass openssl -verify', async () => {
    const pem = await createCsrPem(await generateDeviceKey('P-256'));
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] ^= 0x01; // inside the signature's last integer
    const file = join(dir, 'bad.csr');
    writeFileSync(file, der);
    // OpenSSL 3.0 exits 0 here and says so only in words.
    const r = openssl(['req', '-in', file, '-inform', 'DER', '-noout', '-verify'], dir);
    expect(r.out).not.toMatch(/verify OK/i);
    expect(r.out).toMatch(/verify failure|did not match|bad signature/i);
  });

  it('refuses an unknown key type', async () => {
    await expect(generateDeviceKey('P-521' as DeviceKeyType)).rejects.toThrow(/unsupported device key type 'P-521'/);
  });
});
