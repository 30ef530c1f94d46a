/**
 * Streaming MCUboot verification against `openssl dgst -sha256`, on the same file in the same run.
 *
 * Writes an ECDSA P-256 signed MCUboot image of N MiB (default 1024) once into a temp file (signed
 * by Node's crypto through the lib's image writer), then, for each round, times
 * `openssl dgst -sha256 <file>` and `verifyMcubootStream(fs.createReadStream(file, 1 MiB chunks))`,
 * sampling the process RSS every 5 ms during the lib's runs. The file is written and fsynced
 * first, so both read it from the page cache without writeback competing; the best round of each
 * is kept (the machine may be shared).
 *
 *   node scripts/build.js && node dist/bench/firmware-lib.js [--size-mib 1024] [--rounds 5] [--keep]
 *
 * Prints one JSON line {opensslMiBps, libMiBps, ratio, rssGrowthMiB, ...} and a one-line summary.
 * The product target is ratio >= 0.8 with RSS growth independent of the image size.
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { signingKeyFromKeyObject, verifyMcubootStream, type SigningKey } from '@fleetguard/firmware';
import { writeMcubootImageFile } from './support/mcuboot-image.file';
import { flagArg, numberArg } from './support/measure';

const MiB = 1 << 20;
const OPENSSL = process.env.OPENSSL ?? '/usr/bin/openssl';

function writeImage(file: string, sizeMiB: number): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeMcubootImageFile(file, sizeMiB, privateKey, '1.0.0+1', 1);
  return signingKeyFromKeyObject(createPublicKey(privateKey));
}

function timeOpenssl(file: string): { seconds: number; hex: string } {
  const t0 = performance.now();
  const run = spawnSync(OPENSSL, ['dgst', '-sha256', '-r', file], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (run.status !== 0) throw new Error(`openssl failed: ${run.stderr}`);
  return { seconds, hex: run.stdout.split(' ')[0] };
}

async function timeLib(file: string, key: SigningKey): Promise<{ seconds: number; fileDigest: string; baselineRss: number; peakRss: number }> {
  const baselineRss = process.memoryUsage.rss();
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 5);
  try {
    const t0 = performance.now();
    const verdict = await verifyMcubootStream(createReadStream(file, { highWaterMark: MiB }), [key]);
    const seconds = (performance.now() - t0) / 1000;
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    if (verdict.signerKeyId !== key.keyId) throw new Error('the image did not verify with its key');
    return { seconds, fileDigest: verdict.fileDigest, baselineRss, peakRss };
  } finally {
    clearInterval(sampler);
  }
}

async function main(): Promise<void> {
  const sizeMiB = numberArg('size-mib', 1024);
  const rounds = Math.floor(numberArg('rounds', 5));
  const dir = mkdtempSync(join(tmpdir(), 'fleetguard-firmware-bench-'));
  const file = join(dir, 'image.mcuboot.bin');
  try {
    const g0 = performance.now();
    const key = writeImage(file, sizeMiB);
    const generateSeconds = (performance.now() - g0) / 1000;
    const fileMiB = statSync(file).size / MiB;

    let opensslBest = Infinity;
    let libBest = Infinity;
    const opensslRuns: number[] = [];
    const libRuns: number[] = [];
    let rssGrowth = 0;
    let baselineRss = 0;
    let peakRss = 0;
    for (let round = 0; round < rounds; round++) {
      const o = timeOpenssl(file);
      const l = await timeLib(file, key);
      if (l.fileDigest !== `sha256:${o.hex}`) throw new Error(`digest disagreement: lib ${l.fileDigest}, openssl ${o.hex}`);
      opensslBest = Math.min(opensslBest, o.seconds);
      libBest = Math.min(libBest, l.seconds);
      opensslRuns.push(Math.round(fileMiB / o.seconds));
      libRuns.push(Math.round(fileMiB / l.seconds));
      if (l.peakRss - l.baselineRss > rssGrowth || round === 0) {
        rssGrowth = l.peakRss - l.baselineRss;
        baselineRss = l.baselineRss;
        peakRss = l.peakRss;
      }
    }
    const opensslMiBps = fileMiB / opensslBest;
    const libMiBps = fileMiB / libBest;
    const result = {
      bench: 'firmware-lib',
      sizeMiB: Number(fileMiB.toFixed(3)),
      rounds,
      generateSeconds: Number(generateSeconds.toFixed(2)),
      opensslMiBps: Math.round(opensslMiBps),
      libMiBps: Math.round(libMiBps),
      ratio: Number((libMiBps / opensslMiBps).toFixed(3)),
      opensslRunsMiBps: opensslRuns,
      libRunsMiBps: libRuns,
      rssGrowthMiB: Number((rssGrowth / MiB).toFixed(1)),
      baselineRssMiB: Number((baselineRss / MiB).toFixed(1)),
      peakRssMiB: Number((peakRss / MiB).toFixed(1)),
      node: process.version,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
    process.stdout.write(
      `firmware-lib: ${result.sizeMiB} MiB MCUboot image, openssl dgst ${result.opensslMiBps} MiB/s, ` +
        `verifyMcubootStream ${result.libMiBps} MiB/s (ratio ${result.ratio}, target >= 0.8), RSS +${result.rssGrowthMiB} MiB\n`,
    );
  } finally {
    if (!flagArg('keep')) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${file}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
