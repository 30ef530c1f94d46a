/**
 * A Mosquitto broker of the bench's own (Debian's /usr/sbin/mosquitto in the foreground), for a
 * like-for-like baseline: a mutual-TLS listener on a free loopback port whose `cafile` is the
 * service's device CA (so the same device certificates connect to both brokers), a server
 * certificate for 127.0.0.1 / localhost issued by a throwaway CA made here (the clients trust
 * it), `require_certificate true` and `use_identity_as_username true` (the certificate's CN is the
 * user name, as the service takes it for the client id). Optionally a plain anonymous listener
 * beside it, for reference only. Everything lives in a temp dir removed by stop().
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its algorithms through tsyringe
import { ChildProcess, spawn } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import { freePort, until } from '../../test/support/cluster';
import { processCpuSeconds } from './measure';

const crypto = webcrypto as unknown as Crypto;
const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
export const MOSQUITTO = process.env.FLEETGUARD_BENCH_MOSQUITTO_BIN ?? ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => fs.existsSync(p)) ?? 'mosquitto';

function pem(label: string, der: ArrayBuffer): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END ${label}-----\n`;
}

/** A throwaway CA and a server certificate it issues for 127.0.0.1 and localhost (P-256, like the service's own). */
export async function throwawayServerCertificate(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const caKeys = (await crypto.subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=fleetguard bench throwaway CA',
      notBefore,
      notAfter,
      keys: caKeys,
      signingAlgorithm: P256,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto)],
    },
    crypto,
  );
  const keys = (await crypto.subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '02',
      subject: 'CN=localhost',
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: P256,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: 'localhost' },
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false, crypto),
      ],
    },
    crypto,
  );
  return { caPem: ca.toString('pem') + '\n', certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

export interface RunningMosquitto {
  pid: number;
  /** mqtts://127.0.0.1:<port>: mutual TLS, device certificates. */
  tlsUrl: string;
  /** mqtt://127.0.0.1:<port>: plain and anonymous (only with `plain: true`). */
  plainUrl?: string;
  /** The throwaway CA that issued the server certificate: what the clients trust. */
  serverCaPem: string;
  config: string;
  /** CPU seconds (user + system) of the broker process so far. */
  cpuSeconds(): number | null;
  said(): string;
  stop(): Promise<void>;
}

/** The passwd entry of `name` (uid, gid), if there is one. */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  try {
    const line = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    if (!line) return undefined;
    const f = line.split(':');
    return { uid: Number(f[2]), gid: Number(f[3]) };
  } catch {
    return undefined;
  }
}

export async function startMosquitto(opts: { clientCaPem: string; plain?: boolean; extraConfig?: string[] }): Promise<RunningMosquitto> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetguard-bench-mosquitto-'));
  const server = await throwawayServerCertificate();
  const files = { cafile: path.join(dir, 'device-ca.pem'), certfile: path.join(dir, 'server.crt.pem'), keyfile: path.join(dir, 'server.key.pem') };
  fs.writeFileSync(files.cafile, opts.clientCaPem);
  fs.writeFileSync(files.certfile, server.certPem);
  fs.writeFileSync(files.keyfile, server.keyPem, { mode: 0o600 });
  const tlsPort = await freePort();
  const plainPort = opts.plain ? await freePort() : undefined;
  const lines = [
    'per_listener_settings true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    ...(opts.extraConfig ?? []),
    `listener ${tlsPort} 127.0.0.1`,
    `cafile ${files.cafile}`,
    `certfile ${files.certfile}`,
    `keyfile ${files.keyfile}`,
    'require_certificate true',
    'use_identity_as_username true',
    ...(plainPort ? [`listener ${plainPort} 127.0.0.1`, 'allow_anonymous true'] : []),
  ];
  const config = lines.join('\n') + '\n';
  const confFile = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(confFile, config);
  // Started as root, Mosquitto drops to its own user after binding and only then reads the
  // certificates: they must be that user's to read (the temp dir is 0700).
  const mosquittoUser = process.getuid?.() === 0 ? systemUser('mosquitto') : undefined;
  if (mosquittoUser) for (const f of [dir, ...Object.values(files), confFile]) fs.chownSync(f, mosquittoUser.uid, mosquittoUser.gid);

  const proc: ChildProcess = spawn(MOSQUITTO, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  proc.stderr!.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async () => {
    if (!gone) {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (!gone) proc.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Ready when its TLS port accepts a connection (it logs errors and warnings only).
    await until('Mosquitto to listen', 15_000, async () => {
      if (gone) throw new Error(`mosquitto exited: ${said || '(nothing said)'}`);
      return new Promise<boolean>((resolve) => {
        const s = net.connect(tlsPort, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    pid: proc.pid!,
    tlsUrl: `mqtts://127.0.0.1:${tlsPort}`,
    plainUrl: plainPort ? `mqtt://127.0.0.1:${plainPort}` : undefined,
    serverCaPem: server.caPem,
    config,
    cpuSeconds: () => processCpuSeconds(proc.pid!),
    said: () => said,
    stop,
  };
}
