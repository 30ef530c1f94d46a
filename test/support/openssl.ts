import { execFile, execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** openssl and curl as independent clients: the tests check the service against tools it did not make. */
export class Workdir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-ossl-'));
  file(name: string): string {
    return path.join(this.dir, name);
  }
  write(name: string, data: string | Buffer): string {
    fs.writeFileSync(this.file(name), data);
    return this.file(name);
  }
  read(name: string): string {
    return fs.readFileSync(this.file(name), 'utf8');
  }
  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function openssl(args: string[], input?: string | Buffer): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export type KeySpec = 'P-256' | 'P-384' | 'Ed25519' | 'RSA-2048' | 'RSA-1024';

const GENPKEY: Record<KeySpec, string[]> = {
  'P-256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'P-384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  Ed25519: ['-algorithm', 'ED25519'],
  'RSA-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'RSA-1024': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
};

/** A key and a CSR made by `openssl req`; returns the file paths and the PEM. */
export function opensslCsr(w: Workdir, name: string, spec: KeySpec, subject = '/CN=factory-line-device/O=Ignored'): { key: string; csr: string; csrPem: string } {
  const key = w.file(`${name}.key`);
  execFileSync('openssl', ['genpkey', ...GENPKEY[spec], '-out', key], { stdio: 'pipe' });
  const csr = w.file(`${name}.csr`);
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr], { stdio: 'pipe' });
  return { key, csr, csrPem: fs.readFileSync(csr, 'utf8') };
}

/** curl runs asynchronously: the service under test lives in this process and must keep answering. */
export function curl(args: string[]): Promise<{ status: number; stdout: string; stderr: string; http: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '30', '-w', '\n%{http_code}', ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const out = stdout ?? '';
      const i = out.lastIndexOf('\n');
      resolve({ status: err ? ((err as { code?: number }).code ?? -1) : 0, stdout: out.slice(0, i), stderr, http: Number(out.slice(i + 1)) });
    });
  });
}

/**
 * One device of a product with a release (fleet-fixture's productWithRelease), enrolled as a
 * device without our code would be: an openssl P-256 key and CSR, POSTed with curl. Returns what
 * an MQTT client needs: the device id, its key file, its certificate chain and the CA chain file.
 */
export async function enrollWithOpenssl(
  w: Workdir,
  s: { api: { get(path: string): Promise<{ body: string }> }; urls: { device: string } },
  fixture: { tokens(n: number): Promise<string[]> },
): Promise<{ deviceId: string; key: string; certificate: string; cafile: string }> {
  const cafile = w.write('chain.pem', (await s.api.get('/pki/ca')).body);
  const [token] = await fixture.tokens(1);
  const { key, csrPem } = opensslCsr(w, 'dev', 'P-256');
  const body = w.write('dev.json', JSON.stringify({ token, csr: csrPem }));
  const enrolled = JSON.parse((await curl(['--cacert', cafile, '-H', 'content-type: application/json', '--data-binary', `@${body}`, `${s.urls.device}/enroll`])).stdout);
  return { deviceId: enrolled.deviceId, key, certificate: enrolled.certificate, cafile };
}
