import { Command, InvalidArgumentError, Option } from 'commander';
import { ApiClient, normaliseBaseUrl } from '../api-client';
import type { CliIo } from '../cli-io';
import { readLogin } from '../config.store';
import { usageError } from '../exit-codes';
import { Output } from '../output';

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** The options every command accepts (on the command itself or before it: `fleetctl --json x`). */
export interface GlobalOptions {
  readonly url?: string;
  readonly key?: string;
  readonly json?: boolean;
}

const GLOBAL_GROUP = 'Global options:';

export const urlOption = () =>
  new Option('--url <url>', `service URL (default: $FLEETCTL_URL, the saved login, or ${DEFAULT_URL})`).helpGroup(GLOBAL_GROUP);
export const keyOption = () => new Option('--key <apiKey>', 'API key (default: $FLEETCTL_KEY, or the saved login)').helpGroup(GLOBAL_GROUP);
export const jsonOption = () => new Option('--json', 'print the raw JSON result, for scripts').helpGroup(GLOBAL_GROUP);

/** For commands that talk to the service. */
export function withApiOptions(cmd: Command): Command {
  return cmd.addOption(urlOption()).addOption(keyOption()).addOption(jsonOption());
}

/** For offline commands (firmware sign/verify/inspect): their `--key` is a key file, not an API key. */
export function withJsonOption(cmd: Command): Command {
  return cmd.addOption(jsonOption());
}

export interface ResolvedTarget {
  readonly url: string;
  readonly key: string | undefined;
  /** Where the key came from, for messages. */
  readonly keySource: 'flag' | 'env' | 'login' | 'none';
}

/** What a command needs from the program: I/O, output mode, and an API client for the resolved target. */
export class CommandContext {
  constructor(readonly io: CliIo) {}

  output(cmd: Command): Output {
    return new Output(this.io, this.globals(cmd).json === true);
  }

  globals(cmd: Command): GlobalOptions {
    return cmd.optsWithGlobals<GlobalOptions>();
  }

  /**
   * URL: --url, $FLEETCTL_URL, the saved login, the default. Key: --key, $FLEETCTL_KEY, or the
   * saved login's key, but that one only when the URL is the saved login's own: a key is never
   * sent to a service it was not saved for.
   */
  async target(cmd: Command): Promise<ResolvedTarget> {
    const g = this.globals(cmd);
    const saved = await readLogin(this.io);
    const url = normaliseBaseUrl(g.url ?? this.io.env.FLEETCTL_URL ?? saved?.url ?? DEFAULT_URL);
    if (g.key !== undefined) return { url, key: nonEmpty(g.key, '--key'), keySource: 'flag' };
    if (this.io.env.FLEETCTL_KEY) return { url, key: this.io.env.FLEETCTL_KEY, keySource: 'env' };
    if (saved && normaliseBaseUrl(saved.url) === url) return { url, key: saved.key, keySource: 'login' };
    return { url, key: undefined, keySource: 'none' };
  }

  /** A client with an API key; refuses (exit 2) when there is none to send. */
  async client(cmd: Command): Promise<ApiClient> {
    const target = await this.target(cmd);
    if (!target.key) {
      throw usageError(`no API key for ${target.url}: pass --key, set FLEETCTL_KEY, or run "fleetctl login --url ${target.url} --key <key>"`);
    }
    this.warnIfCleartext(cmd, target.url);
    return new ApiClient({ baseUrl: target.url, apiKey: target.key, fetch: this.fetch });
  }

  get fetch(): typeof fetch {
    return this.io.fetch ?? globalThis.fetch;
  }

  private warnIfCleartext(cmd: Command, url: string): void {
    const { protocol, hostname } = new URL(url);
    const loopback = hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
    if (protocol === 'http:' && !loopback) this.output(cmd).warn(`sending the API key to ${url} without TLS; use https://`);
  }
}

function nonEmpty(value: string, flag: string): string {
  if (value.trim() === '') throw usageError(`${flag} is empty`);
  return value;
}

/** Parses a positive integer flag value (commander argParser). */
export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => intInRange(name, raw, 1, max);
}

export function nonNegativeInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => intInRange(name, raw, 0, max);
}

function intInRange(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}
