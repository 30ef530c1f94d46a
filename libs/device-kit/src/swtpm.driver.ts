import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootEvent, PcrValues } from '@fleetguard/attestation';

/**
 * Drives a software TPM 2.0 (swtpm) with tpm2-tools, for tests and the device simulator:
 * start a TPM on free ports in a temp dir, create an EK and an AK, extend PCRs, quote.
 * Needs the Debian packages `swtpm swtpm-tools tpm2-tools` (see ENVIRONMENT.md).
 *
 * swtpm runs as a child process (not --daemon) so `stop()` can end exactly that process. It
 * listens on 127.0.0.1 only, on a free port P and P+1 for its control channel (the swtpm TCTI
 * expects that layout).
 * Commands to one TPM are serialized: swtpm serves one connection at a time.
 */

export interface SwtpmAk {
  label: string;
  /** Saved object context (tpm2-tools `-c`). */
  contextPath: string;
  /** SPKI PEM, what a device registers at enrollment (`akPublicKey`). */
  publicKeyPem: string;
  /** TPM name of the AK (nameAlg || digest of TPMT_PUBLIC). */
  name: Buffer;
  /** Signing scheme the AK was created with (tpm2_quote must be told for RSAPSS). */
  scheme: 'ecdsa' | 'rsassa' | 'rsapss';
}

export interface CreateAkOptions {
  /** ecc (P-256, ECDSA; default) or rsa (2048, RSASSA or RSAPSS). */
  alg?: 'ecc' | 'rsa';
  scheme?: 'ecdsa' | 'rsassa' | 'rsapss';
}

const REQUIRED_TOOLS = ['swtpm', 'tpm2_createek', 'tpm2_createak', 'tpm2_pcrextend', 'tpm2_quote', 'tpm2_flushcontext', 'tpm2_pcrread'];

export class SwtpmDriver {
  private queue: Promise<unknown> = Promise.resolve();
  private ekReady = false;
  private stopped = false;
  private readonly exitGuard = () => this.process.kill('SIGKILL');

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly ctrlPort: number,
    private readonly process: ChildProcess,
  ) {
    globalThis.process.once('exit', this.exitGuard);
  }

  /** True when swtpm and the tpm2-tools we use are on PATH. */
  static isAvailable(): boolean {
    return REQUIRED_TOOLS.every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0);
  }

  /** Starts a fresh TPM (empty state, PCRs zero, TPM2_Startup(CLEAR) done) on free TCP ports. */
  static async start(options: { startupTimeoutMs?: number } = {}): Promise<SwtpmDriver> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const dir = await mkdtemp(join(tmpdir(), 'fleetguard-swtpm-'));
      try {
        const [port, ctrlPort] = await freePortPair();
        const child = spawn(
          'swtpm',
          ['socket', '--tpmstate', `dir=${dir}`, '--tpm2', '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrlPort},bindaddr=127.0.0.1`, '--flags', 'not-need-init,startup-clear'],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        child.stderr?.on('data', (d) => (stderr += String(d)));
        await waitForPort(port, child, options.startupTimeoutMs ?? 5000, () => stderr);
        return new SwtpmDriver(dir, port, ctrlPort, child);
      } catch (e) {
        lastError = e;
        await rm(dir, { recursive: true, force: true });
      }
    }
    throw lastError;
  }

  /** TCTI string for tpm2-tools (`TPM2TOOLS_TCTI`). */
  get tcti(): string {
    return `swtpm:host=127.0.0.1,port=${this.port}`;
  }

  /** Creates an attestation key under the endorsement key (`tpm2_createak`). */
  async createAk(label = 'ak', options: CreateAkOptions = {}): Promise<SwtpmAk> {
    if (!/^[a-z0-9-]+$/.test(label)) throw new Error('AK label must be lowercase letters, digits and dashes');
    const alg = options.alg ?? 'ecc';
    const scheme = options.scheme ?? (alg === 'ecc' ? 'ecdsa' : 'rsassa');
    return this.serial(async () => {
      if (!this.ekReady) {
        await this.tool('tpm2_createek', ['-c', 'ek.ctx', '-G', 'ecc', '-u', 'ek.pub']);
        await this.tool('tpm2_flushcontext', ['-t']);
        this.ekReady = true;
      }
      const ctx = `${label}.ctx`;
      await this.tool('tpm2_createak', ['-C', 'ek.ctx', '-c', ctx, '-G', alg, '-g', 'sha256', '-s', scheme, '-u', `${label}.pem`, '-n', `${label}.name`, '-f', 'pem']);
      await this.tool('tpm2_flushcontext', ['-t']); // else "out of memory for object contexts"
      return {
        label,
        contextPath: join(this.dir, ctx),
        publicKeyPem: await readFile(join(this.dir, `${label}.pem`), 'utf8'),
        name: await readFile(join(this.dir, `${label}.name`)),
        scheme,
      };
    });
  }

  /** `tpm2_pcrextend <pcr>:sha256=<digest>`. */
  async extend(pcr: number, digestHex: string): Promise<void> {
    if (!Number.isInteger(pcr) || pcr < 0 || pcr > 23 || !/^[0-9a-fA-F]{64}$/.test(digestHex)) throw new Error('extend: bad PCR or digest');
    await this.serial(() => this.tool('tpm2_pcrextend', [`${pcr}:sha256=${digestHex}`]));
  }

  /** Extends every event of a boot log, in order (what a measured boot does). */
  async extendEvents(events: readonly BootEvent[]): Promise<void> {
    for (const e of events) await this.extend(e.pcr, e.digest);
  }

  /** Reads SHA-256 PCR values (lowercase hex). */
  async readPcrs(pcrs: readonly number[]): Promise<PcrValues> {
    const out = await this.serial(() => this.tool('tpm2_pcrread', [`sha256:${pcrs.join(',')}`]));
    const values: PcrValues = {};
    for (const m of out.matchAll(/^\s*(\d+)\s*:\s*0x([0-9A-Fa-f]{64})\s*$/gm)) values[m[1]] = m[2].toLowerCase();
    return values;
  }

  /**
   * Extends a multi-bank measured boot (a TCG log's events: one digest per bank), in order.
   * `tpm2_pcrextend` takes many `<pcr>:<bank>=<hex>,...` arguments and applies them in order,
   * so the events go in batches of 32.
   */
  async extendBanks(events: readonly { pcr: number; digests: Record<string, string> }[]): Promise<void> {
    const args = events.map((e) => {
      if (!Number.isInteger(e.pcr) || e.pcr < 0 || e.pcr > 23) throw new Error('extendBanks: bad PCR');
      const banks = Object.entries(e.digests).filter(([bank]) => ['sha1', 'sha256', 'sha384', 'sha512'].includes(bank));
      if (banks.length === 0 || banks.some(([, hex]) => !/^[0-9a-fA-F]+$/.test(hex))) throw new Error('extendBanks: bad digests');
      return `${e.pcr}:${banks.map(([bank, hex]) => `${bank}=${hex}`).join(',')}`;
    });
    for (let i = 0; i < args.length; i += 32) {
      const batch = args.slice(i, i + 32);
      await this.serial(() => this.tool('tpm2_pcrextend', batch));
    }
  }

  /** Reads PCR values of one bank (lowercase hex). */
  async readBank(bank: string, pcrs: readonly number[]): Promise<PcrValues> {
    const out = await this.serial(() => this.tool('tpm2_pcrread', [`${bank}:${pcrs.join(',')}`]));
    const values: PcrValues = {};
    for (const m of out.matchAll(/^\s*(\d+)\s*:\s*0x([0-9A-Fa-f]+)\s*$/gm)) values[m[1]] = m[2].toLowerCase();
    return values;
  }

  /** Quotes several banks, e.g. `[{bank: 'sha1', pcrs: [0..9]}, {bank: 'sha256', pcrs: [...]}]` (tpm2_quote `-l sha1:..+sha256:..`). */
  async quoteBanks(ak: SwtpmAk, selection: readonly { bank: string; pcrs: readonly number[] }[], nonce: Uint8Array): Promise<{ quote: Buffer; signature: Buffer }> {
    const list = selection.map((s) => `${s.bank}:${s.pcrs.join(',')}`).join('+');
    if (!/^[a-z0-9]+:[0-9,]+(\+[a-z0-9]+:[0-9,]+)*$/.test(list)) throw new Error('quoteBanks: bad selection');
    return this.serial(async () => {
      const id = `${ak.label}-${Date.now()}-${Math.random().toString(16).slice(2)}`;
      await this.tool('tpm2_quote', ['-c', ak.contextPath, '-l', list, '-q', Buffer.from(nonce).toString('hex'), '-m', `${id}.msg`, '-s', `${id}.sig`, '-g', 'sha256', `--scheme=${ak.scheme}`]);
      await this.tool('tpm2_flushcontext', ['-t']);
      return { quote: await readFile(join(this.dir, `${id}.msg`)), signature: await readFile(join(this.dir, `${id}.sig`)) };
    });
  }

  /**
   * Quotes the SHA-256 bank over `pcrs` with `nonce` as qualifying data (extraData). Returns the
   * marshalled TPMS_ATTEST and TPMT_SIGNATURE exactly as `tpm2_quote -m/-s` writes them by default.
   */
  async quote(ak: SwtpmAk, pcrs: readonly number[], nonce: Uint8Array, format: 'tss' | 'plain' = 'tss'): Promise<{ quote: Buffer; signature: Buffer }> {
    return this.serial(async () => {
      const id = `${ak.label}-${Date.now()}-${Math.random().toString(16).slice(2)}`;
      await this.tool('tpm2_quote', ['-c', ak.contextPath, '-l', `sha256:${pcrs.join(',')}`, '-q', Buffer.from(nonce).toString('hex'), '-m', `${id}.msg`, '-s', `${id}.sig`, '-g', 'sha256', `--scheme=${ak.scheme}`, ...(format === 'plain' ? ['-f', 'plain'] : [])]);
      await this.tool('tpm2_flushcontext', ['-t']);
      return { quote: await readFile(join(this.dir, `${id}.msg`)), signature: await readFile(join(this.dir, `${id}.sig`)) };
    });
  }

  /** Ends the swtpm process and removes its state directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    globalThis.process.removeListener('exit', this.exitGuard);
    if (this.process.exitCode === null && this.process.signalCode === null) {
      let timer: NodeJS.Timeout | undefined;
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
      if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.queue.then(job, job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private tool(cmd: string, args: string[]): Promise<string> {
    if (this.stopped) return Promise.reject(new Error('swtpm is stopped'));
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { cwd: this.dir, env: { ...process.env, TPM2TOOLS_TCTI: this.tcti }, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
        else resolve(String(stdout));
      });
    });
  }
}

/**
 * Two free consecutive ports: the swtpm TCTI of tpm2-tools always talks to the control channel
 * on the server port + 1.
 */
async function freePortPair(): Promise<[number, number]> {
  const listen = (port: number) =>
    new Promise<ReturnType<typeof createServer> | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  const close = (s: ReturnType<typeof createServer> | null) => new Promise((r) => (s ? s.close(r) : r(undefined)));
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await listen(0);
    const port = first ? (first.address() as { port: number }).port : 0;
    const second = port > 0 && port < 65535 ? await listen(port + 1) : null;
    await Promise.all([close(first), close(second)]);
    if (first && second) return [port, port + 1];
  }
  throw new Error('no two consecutive free TCP ports found for swtpm');
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`swtpm exited: ${stderr().trim() || `code ${child.exitCode}`}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => { socket.destroy(); resolve(false); });
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`swtpm did not listen on port ${port} within ${timeoutMs} ms`);
}
