import { resolve } from 'node:path';

/** Where a byte or text goes: process.stdout/stderr, or a capture in tests. */
export interface OutputStream {
  write(chunk: string): unknown;
  /** True when a person is watching (progress bars are drawn only then). */
  readonly isTTY?: boolean;
  /** Terminal width, when a TTY. */
  readonly columns?: number;
}

/**
 * Everything the program touches outside its own files, passed in so that tests run commands
 * in-process: output streams, environment, working directory, and the HTTP client.
 */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative file arguments are resolved against this directory. */
  readonly cwd: string;
  readonly fetch?: typeof fetch;
}

export const resolvePath = (io: CliIo, file: string): string => resolve(io.cwd, file);
