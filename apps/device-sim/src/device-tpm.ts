/**
 * The TPM of a simulated device: an attestation key (AK) registered at enrollment, PCRs extended
 * by the measured boot, quotes over those PCRs with the verifier's nonce as qualifying data.
 *
 * - `swtpm`: a real software TPM 2.0 through tpm2-tools (SwtpmDriver). One TPM per device, since
 *   PCRs are the device's boot state. Quotes are what `tpm2_quote` writes.
 * - `software`: the same structures marshalled in process (buildSoftwareQuote), for load runs
 *   where a swtpm process per device is too heavy.
 */
import { generateKeyPair, KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { BootEvent, replayEventLog } from '@fleetguard/attestation';
import { buildSoftwareQuote, SwtpmAk, SwtpmDriver } from '@fleetguard/device-kit';

export type DeviceTpmOption =
  /** A private swtpm started at enrollment and stopped by close(); or `driver`, a fresh TPM the caller owns and stops. */
  | { mode: 'swtpm'; driver?: SwtpmDriver }
  /** Quotes marshalled in software with an in-process AK (no swtpm needed). */
  | { mode: 'software' };

export interface TpmQuote {
  quote: Buffer;
  signature: Buffer;
}

export interface DeviceTpm {
  readonly mode: DeviceTpmOption['mode'];
  /** SPKI PEM of the AK, sent at enrollment as `akPublicKey`. */
  readonly akPublicKeyPem: string;
  /** Extends every event into its PCR, in order (a measured boot). Call once. */
  measureBoot(events: readonly BootEvent[]): Promise<void>;
  /** Quotes the SHA-256 bank over `pcrs` with `qualifyingData` (the nonce's bytes) as extraData. */
  quote(pcrs: readonly number[], qualifyingData: Uint8Array): Promise<TpmQuote>;
  close(): Promise<void>;
}

const generate = promisify(generateKeyPair) as (type: 'ec', options: { namedCurve: string }) => Promise<{ privateKey: KeyObject; publicKey: KeyObject }>;

/** Creates (and for swtpm, starts) the TPM and its AK. */
export async function createDeviceTpm(option: DeviceTpmOption): Promise<DeviceTpm> {
  if (option.mode === 'software') return SoftwareTpm.create();
  if (option.mode === 'swtpm') return SwtpmDeviceTpm.create(option.driver);
  throw new Error(`unknown TPM mode '${String((option as { mode?: unknown }).mode)}' (swtpm or software)`);
}

class SoftwareTpm implements DeviceTpm {
  readonly mode = 'software' as const;
  private events: BootEvent[] = [];

  private constructor(
    private readonly ak: KeyObject,
    readonly akPublicKeyPem: string,
  ) {}

  static async create(): Promise<SoftwareTpm> {
    const { privateKey, publicKey } = await generate('ec', { namedCurve: 'P-256' });
    return new SoftwareTpm(privateKey, publicKey.export({ type: 'spki', format: 'pem' }) as string);
  }

  async measureBoot(events: readonly BootEvent[]): Promise<void> {
    this.events.push(...events.map((e) => ({ ...e })));
  }

  async quote(pcrs: readonly number[], qualifyingData: Uint8Array): Promise<TpmQuote> {
    return buildSoftwareQuote({ akPrivateKey: this.ak, extraData: qualifyingData, pcrs: replayEventLog(this.events), select: [...pcrs] });
  }

  async close(): Promise<void> {
    this.events = [];
  }
}

class SwtpmDeviceTpm implements DeviceTpm {
  readonly mode = 'swtpm' as const;

  private constructor(
    private readonly driver: SwtpmDriver,
    private readonly ak: SwtpmAk,
    private readonly ownsDriver: boolean,
  ) {}

  get akPublicKeyPem(): string {
    return this.ak.publicKeyPem;
  }

  static async create(driver?: SwtpmDriver): Promise<SwtpmDeviceTpm> {
    if (!driver && !SwtpmDriver.isAvailable()) {
      throw new Error('TPM mode swtpm needs swtpm and tpm2-tools on PATH (Debian: swtpm swtpm-tools tpm2-tools)');
    }
    const tpm = driver ?? (await SwtpmDriver.start());
    try {
      return new SwtpmDeviceTpm(tpm, await tpm.createAk('device-ak'), !driver);
    } catch (e) {
      if (!driver) await tpm.stop();
      throw e;
    }
  }

  measureBoot(events: readonly BootEvent[]): Promise<void> {
    return this.driver.extendEvents(events);
  }

  quote(pcrs: readonly number[], qualifyingData: Uint8Array): Promise<TpmQuote> {
    return this.driver.quote(this.ak, pcrs, qualifyingData);
  }

  async close(): Promise<void> {
    if (this.ownsDriver) await this.driver.stop();
  }
}
