/**
 * Test factory: OpenSSL 3 (the `openssl` binary) as an independent client, in a temporary
 * directory. It makes the keys and requests devices would make, and judges what the CA produced
 * the way a relying party would (`openssl verify`, `openssl x509 -text`, ...).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type OpensslKeyKind = 'P-256' | 'P-384' | 'P-521' | 'secp256k1' | 'Ed25519' | 'Ed448' | 'RSA-2048' | 'RSA-1024' | 'DSA';

export interface OpensslResult {
  status: number;
  stdout: string;
  stderr: string;
}

const KEY_ARGS: Record<OpensslKeyKind, string[]> = {
  'P-256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'P-384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'P-521': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  secp256k1: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  Ed25519: ['-newkey', 'ed25519'],
  Ed448: ['-newkey', 'ed448'],
  'RSA-2048': ['-newkey', 'rsa:2048'],
  'RSA-1024': ['-newkey', 'rsa:1024'],
  DSA: [], // needs parameters first, see makeCsr
};

let counter = 0;

export class OpensslWorkspace {
  private constructor(readonly dir: string) {}

  static create(prefix = 'fleetguard-pki-'): OpensslWorkspace {
    return new OpensslWorkspace(mkdtempSync(join(tmpdir(), prefix)));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, data: string | Uint8Array): string {
    writeFileSync(this.path(name), data);
    return this.path(name);
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  /** Runs openssl in the workspace and reports status and output, whatever the outcome. */
  run(args: string[], input?: string | Uint8Array): OpensslResult {
    const stdin = typeof input === 'string' ? Buffer.from(input) : input;
    const r = spawnSync('openssl', args, { cwd: this.dir, input: stdin, timeout: 60_000 });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1') };
  }

  /** Runs openssl and returns stdout; throws with stderr when it fails. */
  openssl(args: string[], input?: string | Uint8Array): string {
    const r = this.run(args, input);
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /**
   * A fresh key and a PKCS#10 request for it, as `openssl req -new` makes them. `addext` entries
   * are passed through (e.g. 'subjectAltName=DNS:evil.example' to ask for something the profile
   * must ignore).
   */
  makeCsr(kind: OpensslKeyKind, options: { subject?: string; addext?: string[] } = {}): { csrPem: string; keyPath: string } {
    const name = `k${++counter}-${kind}`;
    const keyPath = this.path(`${name}.key`);
    const csrPath = this.path(`${name}.csr`);
    let keyArgs = KEY_ARGS[kind];
    if (kind === 'DSA') {
      this.openssl(['dsaparam', '-out', `${name}.param`, '2048']);
      keyArgs = ['-newkey', `dsa:${this.path(`${name}.param`)}`];
    }
    this.openssl([
      'req', '-new', ...keyArgs, '-nodes', '-keyout', keyPath, '-out', csrPath,
      '-subj', options.subject ?? '/CN=device-requested-name/O=Requested Org',
      ...(options.addext ?? []).flatMap((e) => ['-addext', e]),
    ]);
    return { csrPem: readFileSync(csrPath, 'utf8'), keyPath };
  }

  /** The DER SubjectPublicKeyInfo of a key file, as OpenSSL writes it. */
  publicKeyDer(keyPath: string): Buffer {
    const out = this.path(`pub-${++counter}.der`);
    this.openssl(['pkey', '-in', keyPath, '-pubout', '-outform', 'DER', '-out', out]);
    return readFileSync(out);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
