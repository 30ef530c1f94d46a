import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ServiceProcess {
  urls: { operator: string; device: string; mqtt: string };
  close(): Promise<void>;
}

/** The built fleet-server entry point beside this app in dist/ (the demo runs it; it does not import it). */
function serverEntry(): string {
  const entry = path.resolve(__dirname, '..', '..', 'fleet-server', 'src', 'main.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} not found: run \`npm run build\` first`);
  return entry;
}

/** Reads `fleetguard <name> listening <url>` from a plain line or a JSON log line's `msg`. */
export function listeningUrl(line: string): { name: string; url: string } | null {
  let text = line.trim();
  if (text.startsWith('{')) {
    try {
      text = String((JSON.parse(text) as { msg?: unknown }).msg ?? '');
    } catch {
      return null;
    }
  }
  const m = /^fleetguard (\w+) listening (\S+)$/.exec(text);
  return m ? { name: m[1], url: m[2] } : null;
}

/**
 * Starts the service as a child process with `env`, waits until it has printed every listener's
 * URL (within `timeoutMs`), and gives them back; its own output goes on to this process's stderr.
 * It gets the same V8 young-generation size as `npm start` (the README's quick start says why).
 */
export function startServiceProcess(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--max-semi-space-size=64', '--enable-source-maps', serverEntry()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const urls: Record<string, string> = {};
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The service does not outlive the demo, however the demo ends.
  const killChild = () => child.exitCode === null && child.kill('SIGTERM');
  process.once('exit', killChild);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the service did not report its listeners within ${timeoutMs} ms`)), timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(e);
    };
    const onExit = (code: number | null) => fail(new Error(`the service exited (code ${code}) before it was listening`));
    child.once('exit', onExit);
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        process.stderr.write(chunk);
        buffered += chunk.toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const found = listeningUrl(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
          if (found) urls[found.name] = found.url;
        }
        if (urls.operator && urls.device && urls.mqtt) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve({
            urls: { operator: urls.operator, device: urls.device, mqtt: urls.mqtt },
            async close() {
              if (child.exitCode === null) child.kill('SIGTERM');
              await exited;
            },
          });
        }
      });
    }
  });
}
