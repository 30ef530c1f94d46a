/**
 * Firmware upload through the API against `openssl dgst -sha256` on the same file in the same run.
 *
 * Writes an ECDSA P-256 signed MCUboot image of `--size-mib` MiB (default 1024) with the firmware
 * lib's McubootImageWriter (fresh key), registers the key as the product's signing key, then
 * streams the file from disk to `POST /api/v1/products/:id/firmware` (node:http request with
 * fs.createReadStream piped into it, Content-Length set) from a child process, while the service
 * (in this process, on a PostgreSQL database) verifies it as it arrives. A 1 MiB image (another
 * version, same key) is uploaded first to warm the route. This process's RSS is sampled every
 * 5 ms: the service's, the uploader's buffers are not in it. openssl runs
 * `--openssl-rounds` times before the upload and once after; its best time is the baseline.
 *
 *   npm run build && node dist/bench/firmware-http.js [--size-mib 1024] [--openssl-rounds 3] [--keep]
 *   (npm run bench:firmware runs firmware-lib.js and then this, with the same options)
 *
 * Prints one JSON line {opensslMiBps, httpMiBps, ratio, rssGrowthMiB, ...} and a one-line summary.
 * Goals: ratio >= 0.6 through HTTP, RSS growth < 64 MiB.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fork, ChildProcess } from 'node:child_process';
import { writeMcubootImageFile } from './support/mcuboot-image.file';
import { createProduct, createTenant, startBenchService } from './support/bench-service';
import { cpuMeter, emit, fail, flagArg, machineInfo, numberArg, OPENSSL, processCpuSeconds, round, rssSampler } from './support/measure';

const MiB = 1 << 20;
const GOAL_RATIO = 0.6;
const GOAL_RSS_GROWTH_MIB = 64;

function timeOpenssl(file: string): { seconds: number; hex: string } {
  const t0 = performance.now();
  const run = spawnSync(OPENSSL, ['dgst', '-sha256', '-r', file], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (run.status !== 0) throw new Error(`openssl failed: ${run.stderr}`);
  return { seconds, hex: run.stdout.split(' ')[0] };
}

interface UploadRequest {
  t: 'upload';
  url: string;
  apiKey: string;
  file: string;
}

interface Uploaded {
  t: 'uploaded';
  status: number;
  body: string;
  seconds: number;
}

async function main(): Promise<void> {
  const sizeMiB = numberArg('size-mib', 1024);
  const opensslRounds = numberArg('openssl-rounds', 3, { integer: true, min: 1 });
  const machine = machineInfo();
  const dir = mkdtempSync(join(tmpdir(), 'fleetguard-firmware-http-bench-'));
  const file = join(dir, 'image.mcuboot.bin');
  const warmFile = join(dir, 'warm-up.mcuboot.bin');
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const g0 = performance.now();
    writeMcubootImageFile(file, sizeMiB, privateKey, '1.0.0+1', 2);
    const generateSeconds = (performance.now() - g0) / 1000;
    writeMcubootImageFile(warmFile, 1, privateKey, '0.9.0+1', 1);
    const fileBytes = statSync(file).size;
    const fileMiB = fileBytes / MiB;

    const openssl: Array<{ seconds: number; hex: string }> = [];
    for (let i = 0; i < opensslRounds; i++) openssl.push(timeOpenssl(file));

    const service = await startBenchService();
    const uploader = startUploader();
    try {
      const manufacturer = await createTenant(service, 'manufacturer');
      const product = await createProduct(service, manufacturer.key);
      const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
      await service.api.expect(201, 'POST', `/api/v1/products/${product.id}/signing-keys`, { key: manufacturer.key, body: { publicKey } });
      const url = `${service.urls.operator}/api/v1/products/${product.id}/firmware`;
      const upload = (f: string) => uploader.upload({ t: 'upload', url, apiKey: manufacturer.key, file: f });
      const warm = await upload(warmFile);
      if (warm.status !== 201) throw new Error(`warm-up upload: HTTP ${warm.status}: ${warm.body.slice(0, 300)}`);

      global.gc?.();
      const rss = rssSampler(5);
      const cpu = cpuMeter();
      const uploaderCpu0 = processCpuSeconds(uploader.pid);
      const up = await upload(file);
      const uploaderCpu1 = processCpuSeconds(uploader.pid);
      const cpuReport = cpu();
      const uploaderCores = uploaderCpu0 !== null && uploaderCpu1 !== null ? round((uploaderCpu1 - uploaderCpu0) / up.seconds, 2) : null;
      rss.sample();
      const memory = rss.stop();
      if (up.status !== 201) throw new Error(`upload: HTTP ${up.status}: ${up.body.slice(0, 500)}`);
      const release = JSON.parse(up.body) as { digest: string; size: number; version: string; signerKeyId: string; status: string };

      openssl.push(timeOpenssl(file));
      const best = Math.min(...openssl.map((o) => o.seconds));
      // The release digest is the MCUboot image hash (header + body + protected TLVs), not the file's: compare sizes.
      if (Number(release.size) !== fileBytes) throw new Error(`the service recorded ${release.size} bytes, the file has ${fileBytes}`);

      const peakRssMiB = memory.peakMiB;
      const rssGrowthMiB = peakRssMiB - memory.baselineMiB;
      const opensslMiBps = fileMiB / best;
      const httpMiBps = fileMiB / up.seconds;
      const ratio = httpMiBps / opensslMiBps;
      const result = {
        bench: 'firmware-http',
        sizeMiB: round(fileMiB, 3),
        format: 'MCUboot, ECDSA P-256',
        release: { version: release.version, status: release.status, size: Number(release.size), imageDigest: release.digest, fileSha256: openssl[0].hex },
        generateSeconds: round(generateSeconds, 2),
        opensslMiBps: round(opensslMiBps, 0),
        opensslRunsMiBps: openssl.map((o) => round(fileMiB / o.seconds, 0)),
        httpSeconds: round(up.seconds, 2),
        httpMiBps: round(httpMiBps, 0),
        ratio: round(ratio, 3),
        rssGrowthMiB: round(rssGrowthMiB, 1),
        baselineRssMiB: memory.baselineMiB,
        peakRssMiB: round(peakRssMiB, 1),
        goals: {
          ratio: { goal: GOAL_RATIO, met: ratio >= GOAL_RATIO },
          rssGrowthMiB: { goal: `< ${GOAL_RSS_GROWTH_MIB}`, met: rssGrowthMiB < GOAL_RSS_GROWTH_MIB },
        },
        cpu: { ...cpuReport, uploaderCores, note: 'otherCores includes the uploader process' },
        client: 'node:http request, fs.createReadStream (1 MiB chunks) piped, Content-Length, in a child process',
        database: 'postgresql',
        machine,
      };
      emit(
        result,
        `firmware-http: ${result.sizeMiB} MiB MCUboot image uploaded at ${result.httpMiBps} MiB/s vs openssl dgst -sha256 ${result.opensslMiBps} MiB/s ` +
          `(ratio ${result.ratio}, goal >= ${GOAL_RATIO}: ${result.goals.ratio.met ? 'MET' : 'NOT met'}), RSS +${result.rssGrowthMiB} MiB ` +
          `(goal < ${GOAL_RSS_GROWTH_MIB}: ${result.goals.rssGrowthMiB.met ? 'MET' : 'NOT met'}); CPU: service process ${cpuReport.thisProcessCores}, uploader ${uploaderCores}, other ${cpuReport.otherCores} (incl. uploader) of ${cpuReport.cpus} cores, service loop ${Math.round(cpuReport.mainLoopUtilization * 100)}% busy`,
      );
    } finally {
      uploader.close();
      await service.stop();
    }
  } finally {
    if (!flagArg('keep')) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${file}\n`);
  }
}

/* -------------------------------------------------------------------- uploader (child process) */

function startUploader(): { pid: number; upload(r: UploadRequest): Promise<Uploaded>; close(): void } {
  const child: ChildProcess = fork(__filename, ['--uploader'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let pending: { resolve: (u: Uploaded) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (m: Uploaded | { t: 'error'; message: string }) => {
    const p = pending;
    pending = undefined;
    if (m.t === 'uploaded') p?.resolve(m);
    else p?.reject(new Error(`uploader: ${m.message}`));
  });
  child.on('exit', (code) => pending?.reject(new Error(`the uploader exited (${code})`)));
  return {
    pid: child.pid!,
    upload(r) {
      return new Promise((resolve, reject) => {
        pending = { resolve, reject };
        child.send(r);
      });
    },
    close() {
      child.removeAllListeners('exit');
      child.kill();
    },
  };
}

function uploadFile(request: UploadRequest): Promise<Uploaded> {
  const size = statSync(request.file).size;
  return new Promise<Uploaded>((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      request.url,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${request.apiKey}`, 'content-type': 'application/octet-stream', 'content-length': String(size), accept: 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ t: 'uploaded', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), seconds: (performance.now() - t0) / 1000 }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    createReadStream(request.file, { highWaterMark: MiB }).on('error', reject).pipe(req);
  });
}

function uploaderMain(): void {
  process.on('message', (m: UploadRequest) => {
    if (m.t !== 'upload') return;
    uploadFile(m).then(
      (r) => process.send!(r),
      (e: Error) => process.send!({ t: 'error', message: e.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

if (flagArg('uploader')) uploaderMain();
else main().catch(fail);
