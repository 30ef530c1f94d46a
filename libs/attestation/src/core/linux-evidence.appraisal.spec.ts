import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { appraiseEvidence } from './appraisal.pipeline';
import { MeasuredBootReference } from './linux-evidence.appraisal';
import { linuxEvidenceView } from './linux-evidence.view';
import { parseMeasuredBootPolicy, policyFromLog, recordGoldenBootState } from './measured-boot.policy';
import { decodeNonce } from './nonce';
import { parseTcgEventLog, TcgEventLog } from './tcg-event-log.parser';
import { EV } from './tcg-event.decoders';
import { createAppraisalScenario } from './testing/appraisal.fixture';
import { realEventLog, alterTcgEvent, LINUX_BOOT_SELECTION, PcrSelection, softwareTcgQuote } from '@fleetguard/device-kit';

const ubuntuBytes = realEventLog('ubuntu-qemu.bin');
const ubuntu = parseTcgEventLog(ubuntuBytes);

function linuxScenario(reference: Partial<MeasuredBootReference> = {}) {
  const s = createAppraisalScenario();
  const ak = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  s.device.akPublicKey = createPublicKey(ak.privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const ref: MeasuredBootReference = { golden: reference.golden ?? null, policy: reference.policy ?? null };
  s.ports.findMeasuredBoot = async () => ref;
  /** Evidence carrying `log` and a quote over `quoteOf` (defaults to the same log). */
  const evidence = async (log: Buffer, options: { quoteOf?: Buffer; selection?: PcrSelection[]; noQuote?: boolean } = {}) => {
    const nonce = s.nonces.issue(s.deviceId);
    const quoted: TcgEventLog = parseTcgEventLog(options.quoteOf ?? log);
    const tpm = options.noQuote ? undefined : softwareTcgQuote(ak.privateKey, decodeNonce(nonce), quoted, options.selection ?? LINUX_BOOT_SELECTION);
    return s.evidence({ nonce, events: [], tpm, extraClaims: { boot: { alg: 'sha256', tcgEventLog: log.toString('base64') } } });
  };
  return { s, evidence, ref };
}

const appraise = async (s: ReturnType<typeof linuxScenario>['s'], evidence: string) => appraiseEvidence({ deviceId: s.deviceId, evidence }, s.ports);

describe('TCG boot log evidence against a golden state', () => {
  const golden = recordGoldenBootState(ubuntu);

  it('a device booting the golden log, quoted over sha1 and sha256, is affirming with approved boot', async () => {
    const { s, evidence } = linuxScenario({ golden });
    const r = await appraise(s, await evidence(ubuntuBytes));
    expect(r.reasons).toEqual([]);
    expect(r.status).toBe('affirming');
    expect(r.trustVector.executables).toBe(3);
    expect(r.claims?.linux?.tcgEventLog).toMatchObject({ events: 105, banks: ['sha1', 'sha256'], quoted: LINUX_BOOT_SELECTION });
  });

  it('one altered event (quote consistent with the altered log) is contraindicated, naming the event', async () => {
    const { s, evidence } = linuxScenario({ golden });
    const shim = ubuntu.events.find((e) => e.type === EV.EFI_BOOT_SERVICES_APPLICATION)!;
    const altered = alterTcgEvent(ubuntuBytes, shim.index);
    const r = await appraise(s, await evidence(altered));
    expect(r.status).toBe('contraindicated');
    expect(r.findings.map((f) => f.code)).toEqual(['event-differs-from-golden-state']);
    expect(r.reasons[0]).toMatch(new RegExp(`^event ${shim.index} \\(EV_EFI_BOOT_SERVICES_APPLICATION, PCR 4, ".*shimx64\\.efi"\\) measured sha256:`));
  });

  it('a log that does not match the quote is contraindicated (the TPM measured something else)', async () => {
    const { s, evidence } = linuxScenario({ golden });
    const altered = alterTcgEvent(ubuntuBytes, 30);
    const r = await appraise(s, await evidence(altered, { quoteOf: ubuntuBytes }));
    expect(r.status).toBe('contraindicated');
    expect(r.findings.find((f) => f.code === 'tpm-pcr-digest-mismatch')?.message).toMatch(/sha1:0,1,2,3,4,5,6,7,8,9,14 sha256:0,1,2,3,4,5,6,7,8,9,14/);
    expect(r.trustVector.executables).toBe(96);
  });

  it('a quote over a bank the log lacks, or missing PCRs, is not accepted', async () => {
    const { s, evidence } = linuxScenario({ golden });
    const partial = await appraise(s, await evidence(ubuntuBytes, { selection: [{ bank: 'sha256', pcrs: [0, 1, 2, 3, 4, 5, 6, 7] }] }));
    expect(partial.findings.map((f) => f.code)).toEqual(['tpm-pcr-not-quoted']);
    expect(partial.reasons[0]).toMatch(/PCR 8, 9, 14/);
    expect(partial.status).toBe('warning');
    const foreign = await appraise(s, await evidence(ubuntuBytes, { selection: [{ bank: 'sha384', pcrs: [0] }] }));
    expect(foreign.findings.map((f) => f.code)).toContain('tpm-pcr-bank-not-in-log');
  });

  it('a TCG log without a quote is refused as invalid evidence; a broken log is contraindicated with its reason', async () => {
    const { s, evidence } = linuxScenario({ golden });
    await expect(appraise(s, await evidence(ubuntuBytes, { noQuote: true }))).rejects.toMatchObject({ code: 'evidence-claims-invalid', message: expect.stringMatching(/TPM quote/) });
    const cut = ubuntuBytes.subarray(0, 5000);
    const r = await appraise(s, await evidence(cut, { quoteOf: ubuntuBytes }));
    expect(r.status).toBe('contraindicated');
    expect(r.findings[0]).toMatchObject({ stage: 'event-log', code: 'tcg-log-truncated' });
  });

  it('without golden state or policy the boot is unrecognized, not approved', async () => {
    const { s, evidence } = linuxScenario();
    const r = await appraise(s, await evidence(ubuntuBytes));
    expect(r.findings.map((f) => f.code)).toEqual(['measured-boot-reference-missing']);
    expect(r.status).toBe('warning');
  });
});

describe('measured-boot policies: Fleetguard JSON and an imported Keylime reference state decide the same cases', () => {
  const hex = (h: string) => `0x${h}`;
  const bsas = ubuntu.events.filter((e) => e.pcr === 4 && e.type === EV.EFI_BOOT_SERVICES_APPLICATION);
  const keys = (name: string) => {
    const e = ubuntu.events.find((x) => x.decoded.kind === 'efi-variable' && x.decoded.name === name && x.type === EV.EFI_VARIABLE_DRIVER_CONFIG)!;
    return e.decoded.kind === 'efi-variable' ? e.decoded.signatures! : [];
  };
  const ipl = (pcr: number, re: RegExp) => ubuntu.events.filter((e) => e.pcr === pcr && e.type === EV.IPL && e.decoded.kind === 'string' && re.test(e.decoded.text));
  const cmdline = ipl(8, /^kernel_cmdline: /)[0];
  const cmdlineText = cmdline.decoded.kind === 'string' ? cmdline.decoded.text.slice('kernel_cmdline: '.length) : '';

  /** Written from Keylime's published format (keylime/mba/elchecking/example.py), values from the known-good log. */
  const keylimeRefstate = (change: (r: Record<string, unknown>) => void = () => undefined) => {
    const digest = (e: { digests: Record<string, string> }) => ({ sha1: hex(e.digests.sha1), sha256: hex(e.digests.sha256) });
    const refstate: Record<string, unknown> = {
      scrtm_and_bios: [
        {
          scrtm: digest(ubuntu.events.find((e) => e.type === EV.S_CRTM_VERSION)!),
          platform_firmware: ubuntu.events.filter((e) => e.type === EV.EFI_PLATFORM_FIRMWARE_BLOB).map(digest),
        },
      ],
      pk: keys('PK').map((k) => ({ SignatureOwner: k.owner, SignatureData: hex(k.data) })),
      kek: keys('KEK').map((k) => ({ SignatureOwner: k.owner, SignatureData: hex(k.data) })),
      db: keys('db').map((k) => ({ SignatureOwner: k.owner, SignatureData: hex(k.data) })),
      dbx: keys('dbx').map((k) => ({ SignatureOwner: k.owner, SignatureData: hex(k.data) })),
      mokdig: ipl(14, /^MokList$/).map((e) => ({ sha256: hex(e.digests.sha256) })),
      mokxdig: ipl(14, /^MokListX$/).map((e) => ({ sha256: hex(e.digests.sha256) })),
      kernels: [
        {
          shim_authcode_sha256: hex(bsas[0].digests.sha256),
          grub_authcode_sha256: hex(bsas[1].digests.sha256),
          kernel_authcode_sha256: hex(bsas[2].digests.sha256),
          initrd_plain_sha256: hex(ipl(9, /\/initrd/)[0].digests.sha256),
          kernel_cmdline: cmdlineText.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('ro ', 'r[ow] '),
        },
      ],
    };
    change(refstate);
    return JSON.parse(JSON.stringify(refstate)) as unknown;
  };

  const cases: [string, () => unknown][] = [
    ['Keylime reference state', () => keylimeRefstate()],
    ['Fleetguard policy generated from the log', () => policyFromLog(ubuntu)],
  ];

  it.each(cases)('%s: the known-good log complies', async (_name, policyJson) => {
    const { s, evidence } = linuxScenario({ policy: parseMeasuredBootPolicy(policyJson()) });
    const r = await appraise(s, await evidence(ubuntuBytes));
    expect(r.reasons).toEqual([]);
    expect(r.status).toBe('affirming');
  });

  it.each(cases)('%s: an unknown boot application is contraindicated, naming the event', async (_name, policyJson) => {
    const { s, evidence } = linuxScenario({ policy: parseMeasuredBootPolicy(policyJson()) });
    const r = await appraise(s, await evidence(alterTcgEvent(ubuntuBytes, bsas[1].index)));
    expect(r.status).toBe('contraindicated');
    expect(r.findings.map((f) => f.code)).toEqual(['boot-application-unknown']);
    expect(r.reasons[0]).toMatch(new RegExp(`^event ${bsas[1].index} \\(EV_EFI_BOOT_SERVICES_APPLICATION, PCR 4`));
  });

  it.each(cases)('%s: Secure Boot off (the swtpm machine) is refused', async (_name, policyJson) => {
    const swtpmBytes = realEventLog('swtpm.bin');
    const { s, evidence } = linuxScenario({ policy: parseMeasuredBootPolicy(policyJson()) });
    const r = await appraise(s, await evidence(swtpmBytes));
    expect(r.status).toBe('contraindicated');
    expect(r.reasons).toContain('event 4 (EV_EFI_VARIABLE_DRIVER_CONFIG, PCR 7, "SecureBoot"): Secure Boot is disabled, and the policy requires it');
  });

  it.each(cases)('%s: a db holding a key the policy does not allow is contraindicated', async (_name, policyJson) => {
    const json = policyJson() as Record<string, unknown>;
    if ('db' in json) (json as { db: unknown[] }).db = (json as { db: unknown[] }).db.slice(1);
    const { s, evidence } = linuxScenario({ policy: parseMeasuredBootPolicy(json) });
    const r = await appraise(s, await evidence(ubuntuBytes));
    expect(r.findings.map((f) => f.code)).toEqual(['db-differs']);
    // The entry named is the one dropped, by owner and the SHA-256 of its data, as the decoder reads it.
    const db = ubuntu.events.find((e) => e.decoded.kind === 'efi-variable' && e.decoded.name === 'db')!.decoded as { signatures: { owner: string; data: string }[] };
    const dropped = db.signatures[0];
    const sha = createHash('sha256').update(Buffer.from(dropped.data, 'hex')).digest('hex');
    expect(r.reasons[0]).toBe(`event 7 (EV_EFI_VARIABLE_DRIVER_CONFIG, PCR 7, "db"): db holds 1 entry the policy does not allow (first: owner ${dropped.owner}, sha256 of data ${sha.slice(0, 16)}..)`);
  });

  it('a kernel command line the policy does not allow is named (Keylime regex, Fleetguard list)', async () => {
    for (const json of [keylimeRefstate((r) => ((r.kernels as { kernel_cmdline: string }[])[0].kernel_cmdline = 'BOOT_IMAGE=.* quiet')), { ...policyFromLog(ubuntu), kernelCmdlines: ['.* quiet'] }]) {
      const { s, evidence } = linuxScenario({ policy: parseMeasuredBootPolicy(json) });
      const r = await appraise(s, await evidence(ubuntuBytes));
      expect(r.findings.map((f) => f.code)).toEqual(['kernel-cmdline-differs']);
      expect(r.reasons[0]).toMatch(new RegExp(`^event ${cmdline.index} \\(EV_IPL, PCR 8, "kernel_cmdline: .*"\\): kernel command line "`));
    }
  });

  it('a Keylime dbx must hold every required revocation; a forged SecureBoot value is caught by its digest', async () => {
    const extra = keylimeRefstate((r) => (r.dbx as unknown[]).push({ SignatureOwner: '77fa9abd-0359-4d32-bd60-28f4e78f784b', SignatureData: hex('ab'.repeat(32)) }));
    const { s, evidence } = linuxScenario({ policy: parseMeasuredBootPolicy(extra) });
    expect((await appraise(s, await evidence(ubuntuBytes))).findings.map((f) => f.code)).toEqual(['dbx-differs']);

    // The swtpm log says SecureBoot=0; rewrite the data to 1 but keep the measured digest.
    const swtpm = parseTcgEventLog(realEventLog('swtpm.bin'));
    const sb = swtpm.events[3];
    const { writeTcgEventLog } = await import('./tcg-event-log.writer');
    const { tcgEventInputs } = await import('@fleetguard/device-kit');
    const forged = writeTcgEventLog(['sha1', 'sha256'], tcgEventInputs(swtpm, (e, i) => (i === sb.index ? { ...e, data: Buffer.concat([e.data.subarray(0, e.data.length - 1), Buffer.from([1])]) } : e)));
    const second = linuxScenario({ policy: parseMeasuredBootPolicy({ secureBoot: 'required' }) });
    const r = await appraise(second.s, await second.evidence(forged));
    expect(r.findings.map((f) => f.code)).toEqual(['event-data-digest-mismatch']);
  });

  it('refuses policies that are not valid, naming the field', () => {
    expect(() => parseMeasuredBootPolicy({ scrtm_and_bios: [], pk: [{ SignatureOwner: 'x', SignatureData: '0x00' }] })).toThrow(expect.objectContaining({ code: 'measured-boot-policy-invalid', message: expect.stringMatching(/pk\.0\.SignatureOwner/) }));
    expect(() => parseMeasuredBootPolicy({ secureBoot: 'maybe' })).toThrow(expect.objectContaining({ code: 'measured-boot-policy-invalid' }));
    expect(() => parseMeasuredBootPolicy({ kernelCmdlines: ['(unclosed'] })).toThrow(expect.objectContaining({ code: 'measured-boot-policy-invalid' }));
  });
});

describe('the Linux evidence view (what the dashboard shows of a stored result)', () => {
  it('decodes every boot event and puts each finding on the event it names; findings about no event stay apart', async () => {
    const { s, evidence } = linuxScenario({ golden: recordGoldenBootState(ubuntu) });
    const shim = ubuntu.events.find((e) => e.type === EV.EFI_BOOT_SERVICES_APPLICATION)!;
    const ev = await evidence(alterTcgEvent(ubuntuBytes, shim.index));
    const r = await appraise(s, ev);
    expect(r.findings[0]).toMatchObject({ code: 'event-differs-from-golden-state', event: shim.index });
    const view = linuxEvidenceView(ev, r.findings)!;
    expect(view.boot!.banks).toEqual(['sha1', 'sha256']);
    expect(view.boot!.events).toHaveLength(105);
    const failed = view.boot!.events.filter((e) => e.findings.length);
    expect(failed.map((e) => e.index)).toEqual([shim.index]);
    expect(failed[0]).toMatchObject({ pcr: 4, type: 'EV_EFI_BOOT_SERVICES_APPLICATION', label: expect.stringMatching(/shimx64\.efi/) });
    expect(failed[0].findings[0].message).toBe(r.reasons[0]);
    expect(view.boot!.events.find((e) => e.index === 4)).toMatchObject({ type: 'EV_EFI_VARIABLE_DRIVER_CONFIG', label: 'SecureBoot' });
    expect(view.ima).toBeNull();

    // A quote mismatch is about no one event: it stays in the view's own findings.
    const mismatch = await evidence(alterTcgEvent(ubuntuBytes, 30), { quoteOf: ubuntuBytes });
    const r2 = await appraise(s, mismatch);
    const v2 = linuxEvidenceView(mismatch, r2.findings)!;
    expect(v2.findings.map((f) => f.code)).toContain('tpm-pcr-digest-mismatch');
  });

  it('is null for evidence without a TCG log or not a readable JWS', async () => {
    const { s } = linuxScenario();
    const plain = await s.evidence({ nonce: s.nonces.issue(s.deviceId) });
    expect(linuxEvidenceView(plain, [])).toBeNull();
    expect(linuxEvidenceView('not-a-jws', [])).toBeNull();
    expect(linuxEvidenceView('a.b.c', [])).toBeNull();
  });
});
