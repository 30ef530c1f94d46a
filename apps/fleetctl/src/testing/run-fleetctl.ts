import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildProgram } from '../cli';
import type { CliIo, OutputStream } from '../cli-io';

/** Test harness: runs fleetctl in-process with captured output. */

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (for --json runs); throws when it is not JSON. */
  json<T = any>(): T;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly fetch?: typeof fetch;
  /** Pretend stdout is a terminal (box-drawn tables); by default it is not, as in a pipe. */
  readonly tty?: boolean;
}

export class Capture implements OutputStream {
  text = '';
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/**
 * A fresh program per run. The environment is only what the test gives plus a private
 * FLEETCTL_CONFIG (a path that does not exist unless the test logs in), so the developer's own
 * saved login and FLEETCTL_* variables never leak into a test.
 */
export async function runFleetctl(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  const stdout = new Capture(options.tty ?? false);
  const stderr = new Capture();
  const io: CliIo = {
    stdout,
    stderr,
    env: { FLEETCTL_CONFIG: NO_LOGIN, ...options.env },
    cwd: options.cwd ?? process.cwd(),
    fetch: options.fetch,
  };
  const code = await buildProgram(io).run(args);
  return {
    code,
    stdout: stdout.text,
    stderr: stderr.text,
    json() {
      return JSON.parse(stdout.text);
    },
  };
}

/** A config path that does not exist (never created: tests that log in give their own). */
const NO_LOGIN = path.join(os.tmpdir(), `fleetctl-test-no-login-${process.pid}`, 'config.json');

export const makeTempDir = (prefix = 'fleetctl-test-') => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
