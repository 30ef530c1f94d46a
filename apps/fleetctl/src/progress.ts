import { SingleBar } from 'cli-progress';
import type { CliIo } from './cli-io';

/** Counts bytes as they stream, and draws a bar on stderr when a person is watching. */
export interface Progress {
  advance(bytes: number): void;
  readonly bytes: number;
  /** Removes the bar (success or failure alike). */
  stop(): void;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/**
 * A cli-progress bar on stderr when stderr is a terminal (never in pipes, CI logs or `--json`
 * runs, so that scripts see clean output); a silent counter otherwise. `total` null: the size is
 * unknown (a streamed export), so only the running count is shown.
 */
export function startProgress(io: CliIo, label: string, total: number | null, enabled = true): Progress {
  let bytes = 0;
  const stream = io.stderr as unknown as NodeJS.WriteStream;
  const drawable = enabled && io.stderr.isTTY === true && typeof stream.cursorTo === 'function';
  if (!drawable) {
    return {
      advance: (n) => void (bytes += n),
      get bytes() {
        return bytes;
      },
      stop: () => undefined,
    };
  }
  const bar = new SingleBar({
    stream,
    format: total === null ? '{label} {done}' : '{label} [{bar}] {percentage}% | {done} / {size}',
    barCompleteChar: '#',
    barIncompleteChar: '-',
    hideCursor: true,
    clearOnComplete: true,
    stopOnComplete: false,
  });
  const size = formatBytes(total ?? 0);
  bar.start(Math.max(total ?? 1, 1), 0, { label, done: formatBytes(0), size });
  return {
    advance(n: number) {
      bytes += n;
      bar.update(total === null ? 0 : Math.min(bytes, total), { done: formatBytes(bytes) });
    },
    get bytes() {
      return bytes;
    },
    stop: () => bar.stop(),
  };
}
