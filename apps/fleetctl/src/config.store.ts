import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { CliIo } from './cli-io';
import { usageError } from './exit-codes';

/** What `fleetctl login` saves: the service URL and the API key that goes with it. */
export interface SavedLogin {
  readonly url: string;
  readonly key: string;
}

/**
 * `$FLEETCTL_CONFIG`, else `$XDG_CONFIG_HOME/fleetctl/config.json`, else
 * `~/.config/fleetctl/config.json`.
 */
export function configPath(io: CliIo): string {
  if (io.env.FLEETCTL_CONFIG) return resolve(io.cwd, io.env.FLEETCTL_CONFIG);
  const base = io.env.XDG_CONFIG_HOME || join(io.env.HOME || homedir(), '.config');
  return join(base, 'fleetctl', 'config.json');
}

/** The saved login, or null when there is none. A file that exists but is not a login is an error. */
export async function readLogin(io: CliIo): Promise<SavedLogin | null> {
  const file = configPath(io);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw usageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw usageError(`${file} is not JSON; run "fleetctl logout" and log in again`);
  }
  const { url, key } = (value ?? {}) as Record<string, unknown>;
  if (typeof url !== 'string' || typeof key !== 'string') {
    throw usageError(`${file} does not hold {url, key}; run "fleetctl logout" and log in again`);
  }
  return { url, key };
}

/**
 * Saves the login readable by its owner only (0600, directory 0700), through a temporary file
 * renamed over the old one so that a crash never leaves half a file, nor a moment where the key
 * sits in a file with wider permissions.
 */
export async function saveLogin(io: CliIo, login: SavedLogin): Promise<string> {
  const file = configPath(io);
  await fs.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fs.writeFile(tmp, JSON.stringify({ url: login.url, key: login.key }, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw usageError(`cannot write ${file}: ${(e as Error).message}`);
  }
  return file;
}

/** Deletes the saved login; false when there was none. */
export async function removeLogin(io: CliIo): Promise<boolean> {
  const file = configPath(io);
  try {
    await fs.unlink(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw usageError(`cannot remove ${file}: ${(e as Error).message}`);
  }
}
