import { EXIT } from './exit-codes';
import { runFleetctl } from './testing/run-fleetctl';

describe('fleetctl usage', () => {
  // A URL where nothing runs: usage errors must be caught before any request is attempted.
  const offline = { env: { FLEETCTL_URL: 'http://127.0.0.1:9', FLEETCTL_KEY: 'k' } };

  it.each([
    ['no command', [], /Usage: fleetctl/],
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['a group without its subcommand', ['firmware'], /Usage: fleetctl firmware/],
    ['an unknown option', ['org', 'list', '--colour'], /unknown option '--colour'/],
    ['a missing argument', ['product', 'show'], /missing required argument 'id'/],
    ['too many arguments', ['product', 'show', 'a', 'b'], /too many arguments/],
    ['a missing required option', ['org', 'create', 'Acme'], /required option '--kind <kind>' not specified/],
    ['a value outside the choices', ['org', 'create', 'Acme', '--kind', 'reseller'], /Allowed choices are manufacturer, operator/],
    ['an unknown role', ['key', 'create', '--org', 'o', '--roles', 'admin,root'], /not root/],
    ['a malformed target', ['product', 'create', '--name', 'P', '--type', 'EDR', '--target', 'FR8=2'], /"FR8=2" is not FRn=level/],
    ['a level above 4', ['product', 'create', '--name', 'P', '--type', 'EDR', '--target', 'FR1=5'], /FR1=5/],
    ['a non-numeric count', ['token', 'create', 'p', '--count', 'many'], /--count must be an integer/],
    ['a zero limit', ['device', 'list', '--limit', '0'], /--limit must be an integer from 1/],
    ['an unknown revocation reason', ['device', 'revoke', 'd1', '--reason', 'lost'], /Allowed choices are unspecified, keyCompromise/],
    ['a revocation without a reason', ['device', 'revoke', 'd1'], /--reason/],
    ['an export format', ['export', '--format', 'xml', '--out', 'r.xml'], /Allowed choices are csv, json/],
    ['a URL that is not one', ['org', 'list', '--url', 'not a url'], /is not a URL/],
    ['a URL with credentials', ['org', 'list', '--url', 'http://u:p@127.0.0.1:3000'], /must not carry credentials/],
  ])('%s: exit 2 with a message', async (_name, args, message) => {
    const run = await runFleetctl(args, offline);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('asks for an API key when there is none (exit 2), naming the ways to give one', async () => {
    const run = await runFleetctl(['org', 'list'], { env: { FLEETCTL_URL: 'http://127.0.0.1:9' } });
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toMatch(/no API key for http:\/\/127\.0\.0\.1:9: pass --key, set FLEETCTL_KEY, or run "fleetctl login/);
  });

  it('prints help on stdout with exit 0, global options included', async () => {
    const run = await runFleetctl(['device', 'list', '--help']);
    expect(run.code).toBe(EXIT.ok);
    expect(run.stdout).toMatch(/Usage: fleetctl device list \[options\]/);
    expect(run.stdout).toMatch(/Global options:[\s\S]*--url <url>[\s\S]*--key <apiKey>[\s\S]*--json/);
    expect(run.stderr).toBe('');
  });

  it('prints its version', async () => {
    const run = await runFleetctl(['--version']);
    expect(run.code).toBe(EXIT.ok);
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('reads `firmware sign --key` as the key file, not as the global API key', async () => {
    const help = await runFleetctl(['firmware', 'sign', '--help']);
    expect(help.stdout).toMatch(/--key <priv\.pem>/);
    expect(help.stdout).not.toMatch(/--key <apiKey>/);
  });

  it('with --json, reports errors as one JSON line on stderr and keeps stdout empty', async () => {
    const run = await runFleetctl(['org', 'list', '--json'], { env: { FLEETCTL_URL: 'http://127.0.0.1:9' } });
    expect(run.code).toBe(EXIT.usage);
    expect(run.stdout).toBe('');
    expect(JSON.parse(run.stderr)).toEqual({ error: { exitCode: 2, message: expect.stringMatching(/no API key/) } });
  });
});
