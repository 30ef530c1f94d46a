import { createPrivateKey, KeyObject } from 'node:crypto';
import { createReadStream, promises as fs, ReadStream } from 'node:fs';
import { usageError } from './exit-codes';

/** Local input files: anything wrong with them is the invocation's fault (exit 2), named by path. */

export async function readTextFile(path: string, what: string, maxBytes = 1024 * 1024): Promise<string> {
  const size = await fileSize(path, what);
  if (size > maxBytes) throw usageError(`${what} ${path} is ${size} bytes, more than the ${maxBytes} expected`);
  try {
    return await fs.readFile(path, 'utf8');
  } catch (e) {
    throw usageError(`cannot read ${what} ${path}: ${reason(e)}`);
  }
}

/** Size of a regular file; refuses directories and missing files with a clear message. */
export async function fileSize(path: string, what: string): Promise<number> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (e) {
    throw usageError(`cannot read ${what} ${path}: ${reason(e)}`);
  }
  if (!stat.isFile()) throw usageError(`${what} ${path} is not a regular file`);
  return stat.size;
}

/** A byte stream of the file (no encoding: firmware is binary), in 64 KiB chunks. */
export function openByteStream(path: string): ReadStream {
  return createReadStream(path, { highWaterMark: 64 * 1024 });
}

/** The first bytes of a file (fewer if it is shorter). */
export async function readHead(path: string, what: string, length: number): Promise<Buffer> {
  let handle;
  try {
    handle = await fs.open(path, 'r');
  } catch (e) {
    throw usageError(`cannot read ${what} ${path}: ${reason(e)}`);
  }
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a PEM private key. An encrypted one (PKCS#8 with a passphrase) is opened with
 * `passphrase`, taken by the caller from $FLEETCTL_SIGNING_PASSPHRASE, never from a flag (flags
 * end up in shell history and `ps`).
 */
export async function readPrivateKey(path: string, passphrase: string | undefined): Promise<KeyObject> {
  const pem = await readTextFile(path, 'private key', 64 * 1024);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw usageError(`${path} is not a PEM private key (expected "-----BEGIN PRIVATE KEY-----")`);
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem', ...(passphrase ? { passphrase } : {}) });
  } catch (e) {
    const encrypted = /ENCRYPTED/.test(pem);
    if (encrypted && !passphrase) throw usageError(`${path} is encrypted: set FLEETCTL_SIGNING_PASSPHRASE`);
    throw usageError(`cannot read private key ${path}: ${encrypted ? 'wrong passphrase, or ' : ''}${reason(e)}`);
  }
}

/**
 * Writes a file through a temporary sibling renamed into place: an interrupted write never leaves
 * a half-written image or report where the real one should be.
 */
export async function writeAtomically(path: string, write: (tmpPath: string) => Promise<void>): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.part`;
  try {
    await write(tmp);
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

export function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EACCES') return 'permission denied';
  if (err?.code === 'EISDIR') return 'is a directory';
  return err?.message ?? String(e);
}
