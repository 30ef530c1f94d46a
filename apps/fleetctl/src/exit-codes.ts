/**
 * Exit codes scripts can rely on (documented in apps/fleetctl/README.md). Stable: add, never renumber.
 */
export const EXIT = {
  /** The operation succeeded (a verification passed). */
  ok: 0,
  /** The service refused the operation (a 4xx), or a verification failed. */
  refused: 1,
  /** Bad flags or arguments, or an unreadable local input file. */
  usage: 2,
  /** The service cannot be reached, or failed (a 5xx). */
  unavailable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error whose message is for the user (no stack) and which ends the command with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** A stable machine code when there is one (an API error code, a firmware error code). */
    readonly code?: string,
    /** The command already told the user (e.g. printed a failed verdict): only the exit code remains. */
    readonly reported = false,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string, code?: string) => new CliError(message, EXIT.usage, code);
export const refusedError = (message: string, code?: string) => new CliError(message, EXIT.refused, code);
export const unavailableError = (message: string, code?: string) => new CliError(message, EXIT.unavailable, code);
