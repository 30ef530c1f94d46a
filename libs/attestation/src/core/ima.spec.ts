import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import { appraiseEvidence } from './appraisal.pipeline';
import { formatImaNgLine, parseImaMeasurementList, replayImaPcr10 } from './ima-measurement-list.parser';
import { ImaDeviceState, parseRuntimePolicy, RuntimePolicy } from './ima-runtime.policy';
import { recordGoldenBootState } from './measured-boot.policy';
import { decodeNonce } from './nonce';
import { parseTcgEventLog, replayTcgEventLog } from './tcg-event-log.parser';
import { createAppraisalScenario } from './testing/appraisal.fixture';
import { realEventLog, alterTcgEvent, softwareTcgQuote } from '@fleetguard/device-kit';

/** Real lines, as kernels printed them (a Linux kernel mailing-list patch; a published attester guide). */
const REAL_LINES = [
  '11 50b5a68bea0776a84eef6725f17ce474756e51c0 ima-ng sha256:15e1efee080fe54f5d7404af7e913de01671e745ce55215d89f3d6521d3884f0 /root/cat',
  '10 bb24b135e1c911c97aad8f1c1863efc08cd44c11 ima-ng sha256:d41dd4adacf5a35df426461dd8a92d7bdd5ba29bb61a1c3531bec0ada386f8dd /usr/lib/x86_64-linux-gnu/libresolv.so.2',
];
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('IMA ascii_runtime_measurements', () => {
  it('rebuilds the template data of real kernel lines: their template hashes verify', () => {
    const entries = parseImaMeasurementList(REAL_LINES.join('\n') + '\n');
    expect(entries.map((e) => [e.pcr, e.template, e.alg, e.path])).toEqual([
      [11, 'ima-ng', 'sha256', '/root/cat'],
      [10, 'ima-ng', 'sha256', '/usr/lib/x86_64-linux-gnu/libresolv.so.2'],
    ]);
  });

  it('reads ima-sig (with and without a signature) and the old ima template; refuses altered lines', () => {
    const ng = formatImaNgLine('/usr/bin/my tool', sha256('x'));
    const [e] = parseImaMeasurementList(ng);
    expect(e.path).toBe('/usr/bin/my tool');
    // ima-sig: fields d-ng, n-ng, sig; without a signature the sig field is empty.
    const sigData = (sig: Buffer) => {
      const f = (b: Buffer) => Buffer.concat([Buffer.from(Uint32Array.of(b.length).buffer), b]);
      return Buffer.concat([f(Buffer.concat([Buffer.from('sha256:\0'), Buffer.from(sha256('y'), 'hex')])), f(Buffer.from('/bin/y\0')), f(sig)]);
    };
    const sig = Buffer.from('030204' + 'ab'.repeat(8), 'hex');
    const withSig = `10 ${createHash('sha1').update(sigData(sig)).digest('hex')} ima-sig sha256:${sha256('y')} /bin/y ${sig.toString('hex')}`;
    const without = `10 ${createHash('sha1').update(sigData(Buffer.alloc(0))).digest('hex')} ima-sig sha256:${sha256('y')} /bin/y`;
    const oldData = Buffer.concat([createHash('sha1').update('z').digest(), Buffer.from('/bin/z'), Buffer.alloc(256 - 6)]);
    const old = `10 ${createHash('sha1').update(oldData).digest('hex')} ima ${createHash('sha1').update('z').digest('hex')} /bin/z`;
    const parsed = parseImaMeasurementList([withSig, without, old].join('\n'));
    expect(parsed.map((p) => [p.template, p.path, p.signature ?? null])).toEqual([
      ['ima-sig', '/bin/y', sig.toString('hex')],
      ['ima-sig', '/bin/y', null],
      ['ima', '/bin/z', null],
    ]);
    expect(() => parseImaMeasurementList(ng.replace('/usr/bin/my tool', '/usr/bin/other'))).toThrow(expect.objectContaining({ code: 'ima-log-malformed', message: expect.stringMatching(/line 1: template hash/) }));
    expect(() => parseImaMeasurementList('10 zz ima-ng x')).toThrow(expect.objectContaining({ code: 'ima-log-malformed' }));
  });

  it('fuzz: any text is a list or a typed refusal', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom(...REAL_LINES).chain((l) => fc.nat({ max: l.length - 1 }).map((i) => l.slice(0, i) + 'x' + l.slice(i + 1)))), (text) => {
        try {
          parseImaMeasurementList(text);
        } catch (e) {
          if (!(e instanceof DomainError) || !['ima-log-malformed', 'ima-log-too-large'].includes(e.code)) throw e;
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it('imports a Keylime runtime policy v1 and refuses a malformed one', () => {
    const policy = parseRuntimePolicy({ meta: { version: 1, generator: 1 }, release: 0, digests: { '/bin/a': [sha256('a').toUpperCase()] }, excludes: ['/tmp/.*'], keyrings: {}, ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: null }, 'ima-buf': {}, 'verification-keys': '' });
    expect(policy).toEqual({ digests: { '/bin/a': [sha256('a')] }, excludes: ['/tmp/.*'] });
    expect(() => parseRuntimePolicy({ meta: { version: 2 }, digests: {} })).toThrow(expect.objectContaining({ code: 'runtime-policy-invalid' }));
    expect(() => parseRuntimePolicy({ digests: { '/a': ['xyz'] } })).toThrow(expect.objectContaining({ code: 'runtime-policy-invalid', message: expect.stringMatching(/digests/) }));
  });
});

describe('incremental IMA appraisal with a quote over PCR 10', () => {
  const bootBytes = realEventLog('ubuntu-qemu.bin');
  const boot = parseTcgEventLog(bootBytes);
  const SELECTION = [
    { bank: 'sha1', pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14] },
    { bank: 'sha256', pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14] },
  ];
  const files = Array.from({ length: 9 }, (_, i) => [`/usr/bin/tool${i}`, sha256(`tool${i} v1`)] as const);
  const policyJson = { meta: { version: 1 }, digests: Object.fromEntries([...files.map(([p, d]) => [p, [d]]), ['boot_aggregate', [sha256('boot aggregate')]]]), excludes: ['/var/log/'] };

  function device(policy: RuntimePolicy | null) {
    const s = createAppraisalScenario();
    const ak = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    s.device.akPublicKey = createPublicKey(ak.privateKey).export({ type: 'spki', format: 'pem' }) as string;
    let state: ImaDeviceState | null = null;
    s.ports.findMeasuredBoot = async () => ({ golden: recordGoldenBootState(boot), policy: null });
    s.ports.findRuntimePolicy = async () => policy;
    s.ports.loadImaState = async () => state;
    const lines: string[] = [formatImaNgLine('boot_aggregate', sha256('boot aggregate'))];
    /** Appraises the entries from `offset`, the quote covering every entry measured so far; stores the state as the service does. */
    const attest = async (offset: number, log = bootBytes) => {
      const nonce = s.nonces.issue(s.deviceId);
      const parsedBoot = parseTcgEventLog(log);
      const pcrs = replayTcgEventLog(parsedBoot);
      const pcr10 = replayImaPcr10(parseImaMeasurementList(lines.join('\n')));
      pcrs.sha1['10'] = pcr10.sha1;
      pcrs.sha256['10'] = pcr10.sha256;
      const tpm = softwareTcgQuote(ak.privateKey, decodeNonce(nonce), parsedBoot, SELECTION, pcrs);
      const ima = { log: lines.slice(offset).join('\n') + '\n', offset };
      const evidence = await s.evidence({ nonce, events: [], tpm, extraClaims: { boot: { alg: 'sha256', tcgEventLog: log.toString('base64') }, ima } });
      const r = await appraiseEvidence({ deviceId: s.deviceId, evidence }, s.ports);
      if (r.imaState) state = r.imaState;
      return r;
    };
    return { lines, attest, state: () => state };
  }

  it('three appraisals sending only new entries keep PCR 10 consistent with the quote; an unknown file is named with its path', async () => {
    const d = device(parseRuntimePolicy(policyJson));
    d.lines.push(...files.slice(0, 3).map(([p, h]) => formatImaNgLine(p, h)));
    const first = await d.attest(0);
    expect(first.reasons).toEqual([]);
    expect(first.status).toBe('affirming');
    expect(first.trustVector).toMatchObject({ executables: 2, 'file-system': 2 });
    expect(d.state()?.entries).toBe(4);

    d.lines.push(...files.slice(3, 6).map(([p, h]) => formatImaNgLine(p, h)), formatImaNgLine('/var/log/syslog', sha256('noise')));
    const second = await d.attest(4);
    expect(second.reasons).toEqual([]);
    expect(second.claims?.linux?.ima).toMatchObject({ offset: 4, entries: 4, appraised: 4 });
    expect(d.state()?.entries).toBe(8);

    d.lines.push(formatImaNgLine('/tmp/dropper', sha256('evil')), formatImaNgLine(files[6][0], files[6][1]));
    const third = await d.attest(8);
    expect(third.status).toBe('warning');
    expect(third.reasons).toContain(`IMA entry 8: file /tmp/dropper is not in the runtime policy (sha256:${sha256('evil').slice(0, 16)}..)`);
    expect(third.trustVector['file-system']).toBe(32);
    expect(d.state()?.entries).toBe(10);
    expect(d.state()?.pcr10).toEqual(replayImaPcr10(parseImaMeasurementList(d.lines.join('\n'))));

    // Resending from an earlier offset is harmless: what was appraised is skipped.
    d.lines.push(formatImaNgLine(files[7][0], sha256('tool7 v2, modified')));
    const fourth = await d.attest(9);
    expect(fourth.status).toBe('contraindicated');
    expect(fourth.reasons[0]).toMatch(/^IMA entry 10: file \/usr\/bin\/tool7 measured sha256:.*not allow/);
    expect(fourth.trustVector).toMatchObject({ executables: 96, 'file-system': 96 });
  });

  it('a gap, or a new boot with a partial list, is named; a new boot from offset 0 starts over', async () => {
    const d = device(parseRuntimePolicy(policyJson));
    d.lines.push(formatImaNgLine(files[0][0], files[0][1]));
    expect((await d.attest(0)).status).toBe('affirming');
    d.lines.push(formatImaNgLine(files[1][0], files[1][1]), formatImaNgLine(files[2][0], files[2][1]));
    const gap = await d.attest(3);
    expect(gap.findings.map((f) => f.code)).toContain('ima-offset-gap');
    expect(gap.reasons.join(' ')).toMatch(/send from offset 2/);

    const rebooted = alterTcgEvent(bootBytes, 60, 'another grub command'); // another boot: another log
    const partial = await d.attest(2, rebooted);
    expect(partial.findings.map((f) => f.code)).toContain('ima-state-unknown');
    const fresh = await d.attest(0, rebooted);
    expect(fresh.findings.map((f) => f.code)).toEqual(['event-differs-from-golden-state']);
    expect(d.state()?.entries).toBe(4);
  });

  it('IMA entries without a runtime policy are not approved', async () => {
    const d = device(null);
    d.lines.push(formatImaNgLine(files[0][0], files[0][1]));
    const r = await d.attest(0);
    expect(r.findings.map((f) => f.code)).toEqual(['runtime-policy-missing']);
    expect(r.status).toBe('warning');
  });
});
