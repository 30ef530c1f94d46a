import { createHash } from 'node:crypto';
import type { BootEvent } from '@fleetguard/attestation';

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** A plausible measured boot: ROM, bootloader, kernel + initrd, secure-boot policy. */
export function sampleBootEvents(): BootEvent[] {
  return [
    { pcr: 0, component: 'boot-rom', digest: sha256Hex('boot-rom v1') },
    { pcr: 2, component: 'bootloader', digest: sha256Hex('u-boot 2024.01') },
    { pcr: 4, component: 'kernel', digest: sha256Hex('linux 6.6.30') },
    { pcr: 4, component: 'initrd', digest: sha256Hex('initrd 1.4.0') },
    { pcr: 7, component: 'secure-boot-policy', digest: sha256Hex('policy: signed images only') },
  ];
}
