/**
 * Issuance throughput of the PKI core: certificate requests parsed and verified (parseCsr) and
 * device certificates issued (CertificateAuthority.issueDeviceCertificate), without HTTP or a
 * database. Build, then run:
 *
 *   node scripts/build.js && node dist/bench/pki-issue.js [count=5000] [workers=2]
 *
 * Phases: issuance alone on the main thread (one at a time, then 64 in flight), parse + issue on
 * the main thread, and parse + issue spread over `workers` worker threads, each loading the CA
 * from the same material as a multi-process deployment would.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as x509 from '@peculiar/x509';
// The core directly, not @fleetguard/pki: that index also carries the Nest layer, not measured here.
import { CaMaterial, CertificateAuthority, parseCsr, ParsedCsr } from '@fleetguard/pki';
import { positionalArgs } from './support/measure';

const PASSPHRASE = 'bench passphrase, not a secret';
const CRL_URL = 'http://localhost:3000/pki/crl';
const DISTINCT_KEYS = 64;
const IN_FLIGHT = 64;

async function makeCsrs(count: number): Promise<string[]> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const csrs: string[] = [];
  for (let i = 0; i < count; i++) {
    const keys = await webcrypto.subtle.generateKey(algorithm, false, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create(
      { name: `CN=bench-${i}`, keys: keys as CryptoKeyPair, signingAlgorithm: algorithm },
      webcrypto as unknown as Crypto,
    );
    csrs.push(csr.toString('pem'));
  }
  return csrs;
}

/** Runs `task(i)` for i in [0, count) with at most `inFlight` pending; returns elapsed ms. */
async function pool(count: number, inFlight: number, task: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  let next = 0;
  const lanes = Array.from({ length: Math.min(inFlight, count) }, async () => {
    while (next < count) await task(next++);
  });
  await Promise.all(lanes);
  return performance.now() - started;
}

async function parseAndIssue(ca: CertificateAuthority, csrs: string[], count: number): Promise<number> {
  return pool(count, IN_FLIGHT, async (i) => {
    const csr = await parseCsr(csrs[i % csrs.length]);
    await ca.issueDeviceCertificate({ csr, deviceId: `dev-${i}`, validityDays: 90, crlDistributionUrl: CRL_URL });
  });
}

function report(label: string, count: number, ms: number, cpu?: NodeJS.CpuUsage): void {
  const rate = String(Math.round((count / ms) * 1000)).padStart(7);
  const cpuMs = cpu ? (cpu.user + cpu.system) / 1000 / count : undefined;
  const cpuText = cpuMs === undefined ? '' : `, CPU ${cpuMs.toFixed(3)} ms/cert (all threads) = ${Math.round(1000 / cpuMs)} certs/s per core`;
  process.stdout.write(`${label.padEnd(46)} ${rate} certs/s  (${count} in ${ms.toFixed(0)} ms${cpuText})\n`);
}

/** Runs a phase and reports wall-clock rate and CPU time spent by the process (all threads). */
async function measure(label: string, count: number, phase: () => Promise<number>): Promise<void> {
  const before = process.cpuUsage();
  const ms = await phase();
  report(label, count, ms, process.cpuUsage(before));
}

async function main(): Promise<void> {
  const [countArg, workersArg] = positionalArgs();
  const count = Number(countArg ?? 5000);
  const workers = Number(workersArg ?? 2);
  process.stdout.write(`node ${process.version}, ${availableParallelism()} CPUs, ${count} certificates per phase\n`);

  const material = await CertificateAuthority.create({ passphrase: PASSPHRASE });
  const ca = await CertificateAuthority.load(material, PASSPHRASE);
  const csrs = await makeCsrs(DISTINCT_KEYS);
  const parsed: ParsedCsr[] = await Promise.all(csrs.map((c) => parseCsr(c)));
  const issue = (i: number) =>
    ca.issueDeviceCertificate({ csr: parsed[i % parsed.length], deviceId: `dev-${i}`, validityDays: 90, crlDistributionUrl: CRL_URL });

  await pool(1000, IN_FLIGHT, issue); // warm-up (JIT)
  await parseAndIssue(ca, csrs, 1000);

  await measure('issue, one at a time', count, () => pool(count, 1, issue));
  await measure(`issue, ${IN_FLIGHT} in flight`, count, () => pool(count, IN_FLIGHT, issue));
  await measure('parseCsr alone', count, () => pool(count, IN_FLIGHT, (i) => parseCsr(csrs[i % csrs.length])));
  await measure(`parseCsr + issue, ${IN_FLIGHT} in flight`, count, () => parseAndIssue(ca, csrs, count));

  if (workers > 0) {
    // Each worker loads the CA and warms up first; the clock runs from 'go' to the last 'done'.
    const perWorker = Math.ceil(count / workers);
    const pool = Array.from({ length: workers }, () => new Worker(__filename, { workerData: { material, csrs, count: perWorker } }));
    const next = (w: Worker, message: string) =>
      new Promise<void>((resolve, reject) => {
        w.once('message', (m) => (m === message ? resolve() : reject(new Error(String(m)))));
        w.once('error', reject);
      });
    await Promise.all(pool.map((w) => next(w, 'ready')));
    await measure(`parseCsr + issue, ${workers} worker threads`, perWorker * workers, async () => {
      const started = performance.now();
      const done = pool.map((w) => next(w, 'done'));
      pool.forEach((w) => w.postMessage('go'));
      await Promise.all(done);
      return performance.now() - started;
    });
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

async function workerMain(): Promise<void> {
  const { material, csrs, count } = workerData as { material: CaMaterial; csrs: string[]; count: number };
  const ca = await CertificateAuthority.load(material, PASSPHRASE);
  await parseAndIssue(ca, csrs, 1000); // warm-up
  parentPort!.once('message', () => {
    parseAndIssue(ca, csrs, count).then(
      () => parentPort!.postMessage('done'),
      (error) => parentPort!.postMessage(String(error)),
    );
  });
  parentPort!.postMessage('ready');
}

(isMainThread ? main() : workerMain()).catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
