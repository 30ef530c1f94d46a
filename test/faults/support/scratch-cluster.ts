import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../support/cluster';

/**
 * A throw-away PostgreSQL cluster for fault tests (initdb + pg_ctl from the server package in
 * /usr/lib/postgresql/<v>/bin), on a free port of 127.0.0.1, so a test can stop and start "the
 * database" without touching the shared server on 5432. As root, the server runs as `postgres`.
 * fsync is off: the tests are about the service's behaviour, not PostgreSQL's durability.
 */
export class ScratchCluster {
  readonly dir: string;
  readonly port: number;
  private readonly bin: string;

  private constructor(dir: string, port: number, bin: string) {
    this.dir = dir;
    this.port = port;
    this.bin = bin;
  }

  static available(): boolean {
    return !!findBin();
  }

  static async create(): Promise<ScratchCluster> {
    const bin = findBin();
    if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-pgcluster-'));
    fs.chmodSync(dir, 0o777);
    const c = new ScratchCluster(dir, await freePort(), bin);
    c.asOwner([path.join(bin, 'initdb'), '-D', c.data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    c.start();
    return c;
  }

  get data(): string {
    return path.join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
    this.asOwner([path.join(this.bin, 'pg_ctl'), '-D', this.data, '-o', opts, '-l', path.join(this.dir, 'log'), '-w', '-t', '30', 'start']);
  }

  /** `fast`: sessions are terminated (what a database restart or failover looks like to clients). */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    this.asOwner([path.join(this.bin, 'pg_ctl'), '-D', this.data, '-m', mode, '-w', '-t', '30', 'stop']);
  }

  destroy(): void {
    spawnSync(path.join(this.bin, 'pg_ctl'), ['-D', this.data, '-m', 'immediate', 'stop'], { stdio: 'ignore', ...(this.root ? { uid: this.pgUid } : {}) });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private get root(): boolean {
    return process.getuid?.() === 0;
  }

  private get pgUid(): number {
    return Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  }

  private asOwner(argv: string[]): void {
    const [cmd, ...args] = this.root ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  }
}

function findBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, 'bin')).find((b) => fs.existsSync(path.join(b, 'initdb')));
}

