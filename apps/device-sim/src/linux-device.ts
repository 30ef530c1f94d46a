/**
 * A simulated Linux device (gateway, industrial PC) with a TPM: it "boots" a real TCG PC Client
 * event log (from ../shared/data/eventlogs or a machine's binary_bios_measurements) by extending
 * every event's digests, in every bank, into its TPM, then quotes sha1 + sha256 PCRs 0-10 and
 * 14 with the verifier's nonce. IMA entries are appended over time (each extends PCR 10 as the
 * kernel does) and sent incrementally: only the entries after the last evidence, with `offset`.
 *
 * Tampering, for tests and demos:
 *  - `event`: event N measures another image (its digests changed, extended accordingly, so the
 *    quote still matches the log);
 *  - `secureBootOff`: the SecureBoot variable reads 0, measured as such (the quote matches);
 *  - `logOnly`: event N is altered in the log sent, not in the TPM (the log no longer matches the quote);
 *  - an unknown file: `measureFile('/tmp/x', digest)` with a path the runtime policy lacks.
 */
import { createHash, generateKeyPair, KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { alterTcgEvent, softwareTcgQuote, SwtpmAk, SwtpmDriver, tcgEventInputs } from '@fleetguard/device-kit';
import { decodeNonce, EV, formatImaNgLine, parseImaMeasurementList, parseTcgEventLog, replayImaPcr10, replayTcgEventLog, TcgEventLog, writeTcgEventLog } from '@fleetguard/attestation';

export interface LinuxDeviceOption {
  /** The binary TCG event log the device boots. */
  eventLog: Buffer;
  /** `swtpm`: a real software TPM (swtpm + tpm2-tools); `software`: quotes marshalled in process. */
  tpm: 'swtpm' | 'software';
  tamper?: { event?: number; secureBootOff?: boolean; logOnly?: number };
  /** IMA entries measured at boot (path, SHA-256 of the file), after the boot_aggregate. */
  imaFiles?: readonly (readonly [string, string])[];
  /** Send the whole IMA list every time instead of only the new entries. */
  imaFull?: boolean;
}

const SELECTION = (withIma: boolean) => {
  const pcrs = withIma ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14];
  return [
    { bank: 'sha1', pcrs },
    { bank: 'sha256', pcrs },
  ];
};

const generate = promisify(generateKeyPair) as (type: 'ec', options: { namedCurve: string }) => Promise<{ privateKey: KeyObject; publicKey: KeyObject }>;

/** The SecureBoot variable's data set to 0, its digests recomputed as firmware would measure it. */
function secureBootOff(bytes: Buffer): Buffer {
  const log = parseTcgEventLog(bytes);
  const banks = log.specId.algorithms.map((a) => a.name);
  return writeTcgEventLog(
    banks,
    tcgEventInputs(log, (e, index) => {
      const ev = log.events[index - 1];
      if (ev.type !== EV.EFI_VARIABLE_DRIVER_CONFIG || ev.decoded.kind !== 'efi-variable' || ev.decoded.name !== 'SecureBoot') return e;
      const data = Buffer.concat([e.data.subarray(0, e.data.length - 1), Buffer.from([0])]);
      return { ...e, data, digests: Object.fromEntries(banks.map((b) => [b, createHash(b).update(data).digest('hex')])) };
    }),
  );
}

export class LinuxDeviceBoot {
  private readonly imaLines: string[] = [];
  private imaSent = 0;

  private constructor(
    /** The log the device sends (its boot, as measured; or altered for `logOnly`). */
    readonly sentLog: Buffer,
    private readonly measured: TcgEventLog,
    readonly akPublicKeyPem: string,
    private readonly option: LinuxDeviceOption,
    private readonly swtpm: { driver: SwtpmDriver; ak: SwtpmAk } | null,
    private readonly softwareAk: KeyObject | null,
  ) {}

  static async create(option: LinuxDeviceOption): Promise<LinuxDeviceBoot> {
    let booted = option.eventLog;
    if (option.tamper?.event !== undefined) booted = alterTcgEvent(booted, option.tamper.event);
    if (option.tamper?.secureBootOff) booted = secureBootOff(booted);
    const measured = parseTcgEventLog(booted);
    const sent = option.tamper?.logOnly !== undefined ? alterTcgEvent(booted, option.tamper.logOnly) : booted;
    let device: LinuxDeviceBoot;
    if (option.tpm === 'swtpm') {
      const driver = await SwtpmDriver.start();
      try {
        const ak = await driver.createAk('linux-ak');
        await driver.extendBanks(measured.events.filter((e) => e.type !== EV.NO_ACTION));
        device = new LinuxDeviceBoot(sent, measured, ak.publicKeyPem, option, { driver, ak }, null);
      } catch (e) {
        await driver.stop();
        throw e;
      }
    } else {
      const { privateKey, publicKey } = await generate('ec', { namedCurve: 'P-256' });
      device = new LinuxDeviceBoot(sent, measured, publicKey.export({ type: 'spki', format: 'pem' }) as string, option, null, privateKey);
    }
    if (option.imaFiles) {
      await device.measureFile('boot_aggregate', createHash('sha256').update(booted).digest('hex'));
      for (const [path, digest] of option.imaFiles) await device.measureFile(path, digest);
    }
    return device;
  }

  /** IMA measures a file: one ima-ng entry, extended into PCR 10 (sha1: template hash; sha256: SHA-256 of the template data). */
  async measureFile(path: string, sha256Hex: string): Promise<void> {
    const line = formatImaNgLine(path, sha256Hex);
    const [entry] = parseImaMeasurementList(line);
    this.imaLines.push(line);
    await this.swtpm?.driver.extendBanks([{ pcr: 10, digests: { sha1: entry.templateHash, sha256: entry.templateSha256 } }]);
  }

  /** The Linux parts of the evidence for `nonce`: boot.tcgEventLog, the quote, and the IMA entries not sent yet. */
  async evidenceClaims(nonce: string): Promise<{ boot: Record<string, unknown>; tpm: { quote: Buffer; signature: Buffer }; ima?: { log: string; offset: number } }> {
    const withIma = this.imaLines.length > 0;
    const selection = SELECTION(withIma);
    const qualifying = decodeNonce(nonce);
    let tpm: { quote: Buffer; signature: Buffer };
    if (this.swtpm) {
      tpm = await this.swtpm.driver.quoteBanks(this.swtpm.ak, selection, qualifying);
    } else {
      const pcrs = replayTcgEventLog(this.measured);
      if (withIma) {
        const pcr10 = replayImaPcr10(parseImaMeasurementList(this.imaLines.join('\n')));
        pcrs.sha1['10'] = pcr10.sha1;
        pcrs.sha256['10'] = pcr10.sha256;
      }
      tpm = softwareTcgQuote(this.softwareAk!, qualifying, this.measured, selection, pcrs);
    }
    const boot = { alg: 'sha256', tcgEventLog: this.sentLog.toString('base64') };
    if (!withIma) return { boot, tpm };
    const offset = this.option.imaFull ? 0 : this.imaSent;
    this.imaSent = this.imaLines.length;
    return { boot, tpm, ima: { log: this.imaLines.slice(offset).map((l) => `${l}\n`).join(''), offset } };
  }

  async close(): Promise<void> {
    await this.swtpm?.driver.stop();
  }
}
