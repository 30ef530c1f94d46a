/**
 * Enrollment as a device does it, for the benches: P-256 keys and PKCS#10 requests made with Node's
 * crypto and @peculiar/x509, and `POST /enroll` over HTTPS on a keep-alive agent that trusts the
 * chain from `GET /pki/ca`.
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its algorithms through tsyringe
import { webcrypto, X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto as unknown as Crypto;
const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface DeviceRequest {
  csrPem: string;
  /** PKCS#8 PEM of the key the request is for. */
  keyPem: string;
}

/** A fresh P-256 key and its certificate request (PEM). */
export async function makeDeviceRequest(): Promise<DeviceRequest> {
  const keys = (await crypto.subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=pending', keys, signingAlgorithm: P256 }, crypto);
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;
  return { csrPem: csr.toString('pem'), keyPem };
}

export async function fetchCaPem(operatorUrl: string): Promise<string> {
  const res = await fetch(`${operatorUrl}/pki/ca`);
  const text = await res.text();
  if (res.status !== 200 || !text.includes('BEGIN CERTIFICATE')) throw new Error(`GET /pki/ca: HTTP ${res.status}`);
  return text;
}

export interface EnrollResult {
  status: number;
  deviceId?: string;
  certificate?: string;
  chain?: string;
  error?: string;
}

/** `POST /enroll` on the device listener through `agent`; never throws for an HTTP error (see `status`). */
export function postEnroll(deviceUrl: URL, agent: https.Agent, token: string, csrPem: string): Promise<EnrollResult> {
  const body = JSON.stringify({ token, csr: csrPem });
  return new Promise((resolve) => {
    const req = https.request(
      deviceUrl,
      { method: 'POST', path: '/enroll', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), accept: 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            const parsed = JSON.parse(text);
            if (res.statusCode === 201) resolve({ status: 201, deviceId: parsed.deviceId, certificate: parsed.certificate, chain: parsed.chain });
            else resolve({ status: res.statusCode ?? 0, error: String(parsed.message ?? text).slice(0, 300) });
          } catch {
            resolve({ status: res.statusCode ?? 0, error: text.slice(0, 300) });
          }
        });
        res.on('error', (e) => resolve({ status: 0, error: e.message }));
      },
    );
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.end(body);
  });
}

/** The CA certificates of a PEM chain that are not self-signed (what a client sends after its leaf). */
export function intermediatesOf(chainPem: string): string {
  const pems = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return pems
    .filter((pem) => {
      const c = new X509Certificate(pem);
      return c.subject !== c.issuer;
    })
    .map((pem) => pem + '\n')
    .join('');
}

export interface EnrolledDevice {
  deviceId: string;
  /** Leaf + intermediates, as the MQTT client presents them. */
  certChainPem: string;
  keyPem: string;
}

/** Enrolls `tokens.length` devices, `concurrency` at a time (setup for the MQTT benches). */
export async function enrollDevices(deviceUrl: string, caPem: string, tokens: string[], concurrency = 8): Promise<EnrolledDevice[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency, ca: caPem });
  const url = new URL(deviceUrl);
  const out: EnrolledDevice[] = new Array(tokens.length);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, tokens.length) }, async () => {
        while (next < tokens.length) {
          const i = next++;
          const r = await makeDeviceRequest();
          const e = await postEnroll(url, agent, tokens[i], r.csrPem);
          if (e.status !== 201) throw new Error(`enrollment ${i}: HTTP ${e.status}: ${e.error}`);
          out[i] = { deviceId: e.deviceId!, certChainPem: e.certificate!.trimEnd() + '\n' + intermediatesOf(e.chain!), keyPem: r.keyPem };
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return out;
}
