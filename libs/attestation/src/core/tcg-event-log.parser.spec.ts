import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { DomainError } from '@fleetguard/common';
import { MAX_TCG_LOG_BYTES, parseTcgEventLog, replayTcgEventLog, TcgEvent } from './tcg-event-log.parser';
import {
  decodeEventData,
  decodeSignatureLists,
  EFI_CERT_SHA256,
  EFI_CERT_X509,
  efiVariableDataKey,
  efiVariableKey,
  efiVariableLocation,
  EV,
  formatGuid,
  signatureListEntries,
} from './tcg-event.decoders';
import { startupLocalityData, writeTcgEventLog } from './tcg-event-log.writer';
import { realEventLog } from '@fleetguard/device-kit';

const TYPED = new Set(['tcg-log-truncated', 'tcg-log-malformed', 'tcg-log-too-large', 'tcg-log-unsupported']);

function refusal(bytes: Uint8Array): string | null {
  try {
    parseTcgEventLog(bytes);
    return null;
  } catch (e) {
    if (e instanceof DomainError && TYPED.has(e.code)) return e.code;
    throw e;
  }
}

const byName = (events: TcgEvent[], name: string) => events.find((e) => e.decoded.kind === 'efi-variable' && e.decoded.name === name)!;

describe('parseTcgEventLog on real logs', () => {
  const ubuntu = parseTcgEventLog(realEventLog('ubuntu-qemu.bin'));

  it('reads the Spec ID header: banks and sizes', () => {
    expect(ubuntu.specId.algorithms).toEqual([
      { algId: 0x4, name: 'sha1', digestSize: 20 },
      { algId: 0xb, name: 'sha256', digestSize: 32 },
    ]);
    expect(ubuntu.specId.specVersion).toBe('2.0.0');
    expect(ubuntu.startupLocality).toBe(0);
    expect(ubuntu.events).toHaveLength(105); // 106 with the header, as tpm2_eventlog counts
  });

  it('decodes SecureBoot, PK, KEK, db and dbx as EFI signature lists', () => {
    const sb = byName(ubuntu.events, 'SecureBoot');
    expect(sb).toMatchObject({ index: 4, pcr: 7, typeName: 'EV_EFI_VARIABLE_DRIVER_CONFIG', decoded: { secureBoot: true, data: '01' } });
    const kek = byName(ubuntu.events, 'KEK').decoded as { signatures: { type: string; owner: string; data: string }[] };
    expect(kek.signatures.map((s) => s.type)).toEqual([EFI_CERT_X509, EFI_CERT_X509]);
    expect(kek.signatures[1].owner).toBe('77fa9abd-0359-4d32-bd60-28f4e78f784b'); // Microsoft
    expect(kek.signatures[1].data.startsWith('308205e8')).toBe(true); // a DER certificate
    const db = byName(ubuntu.events, 'db').decoded as { signatures: unknown[] };
    expect(db.signatures).toHaveLength(2);
    const dbx = byName(ubuntu.events, 'dbx').decoded as { signatures: { type: string; data: string }[] };
    expect(dbx.signatures).toEqual([expect.objectContaining({ type: EFI_CERT_SHA256, data: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' })]);
  });

  it('decodes boot applications with device paths, EV_IPL strings, separators, actions, blobs, GPT', () => {
    const apps = ubuntu.events.filter((e) => e.type === EV.EFI_BOOT_SERVICES_APPLICATION);
    expect(apps.length).toBe(3);
    expect(apps[0].decoded).toMatchObject({ kind: 'image-load', devicePath: expect.stringMatching(/HD\(\d+,GPT,[0-9a-f-]+,0x[0-9a-f]+,0x[0-9a-f]+\)\/\\EFI\\ubuntu\\shimx64\.efi$/) });
    const cmdline = ubuntu.events.find((e) => e.decoded.kind === 'string' && e.decoded.text.startsWith('kernel_cmdline: '));
    expect(cmdline).toMatchObject({ pcr: 8, typeName: 'EV_IPL' });
    expect(ubuntu.events.filter((e) => e.decoded.kind === 'separator' && !e.decoded.error).map((e) => e.pcr).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(ubuntu.events.find((e) => e.type === EV.EFI_ACTION)?.decoded).toEqual({ kind: 'string', text: 'Calling EFI Application from Boot Option' });
    expect(ubuntu.events[1].decoded).toEqual({ kind: 'firmware-blob', base: '0x820000', length: '0xe0000' });
    const gpt = ubuntu.events.find((e) => e.type === EV.EFI_GPT_EVENT)!.decoded as { kind: string; partitions: { name: string }[] };
    expect(gpt.kind).toBe('gpt');
    expect(gpt.partitions.length).toBeGreaterThan(0);
  });

  it('decodes the intel server log: a db authority entry and a named CRTM version', () => {
    const intel = parseTcgEventLog(realEventLog('intel-server.bin'));
    expect(intel.events[0].decoded).toEqual({ kind: 'string', text: 'SDV.RP.B11.04 Release Build' });
    const authority = intel.events.find((e) => e.type === EV.EFI_VARIABLE_AUTHORITY && e.decoded.kind === 'efi-variable' && e.decoded.name === 'db');
    expect(authority?.decoded).toMatchObject({ signatures: [expect.objectContaining({ data: expect.stringMatching(/^3082/) })] });
    expect(intel.events.some((e) => e.decoded.kind === 'undecodable')).toBe(false);
  });

  it('swtpm log: Secure Boot is off', () => {
    const swtpm = parseTcgEventLog(realEventLog('swtpm.bin'));
    expect(byName(swtpm.events, 'SecureBoot').decoded).toMatchObject({ secureBoot: false });
  });
});

describe('StartupLocality and other banks (logs written here)', () => {
  const events = [
    { pcr: 0, type: EV.NO_ACTION, data: startupLocalityData(3) },
    { pcr: 0, type: EV.S_CRTM_VERSION, data: Buffer.from('v1\0', 'latin1') },
    { pcr: 7, type: EV.SEPARATOR, data: Buffer.alloc(4) },
    { pcr: 0, type: EV.SEPARATOR, data: Buffer.alloc(4) },
  ];
  const H = (alg: string, ...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash(alg)).digest();

  it('PCR 0 starts at the locality (PC Client PFP 10.4.5.3); every bank is replayed (sha1, sha256, sha384, sm3)', () => {
    const log = parseTcgEventLog(writeTcgEventLog(['sha1', 'sha256', 'sha384', 'sm3_256'], events));
    expect(log.startupLocality).toBe(3);
    const pcrs = replayTcgEventLog(log);
    expect(Object.keys(pcrs)).toEqual(['sha1', 'sha256', 'sha384', 'sm3_256']);
    for (const [bank, alg, size] of [['sha1', 'sha1', 20], ['sha256', 'sha256', 32], ['sha384', 'sha384', 48], ['sm3_256', 'sm3', 32]] as const) {
      const start = Buffer.alloc(size);
      start[size - 1] = 3;
      const pcr0 = H(alg, H(alg, start, H(alg, events[1].data)), H(alg, events[3].data));
      expect([bank, pcrs[bank]['0']]).toEqual([bank, pcr0.toString('hex')]);
      expect([bank, pcrs[bank]['7']]).toEqual([bank, H(alg, Buffer.alloc(size), H(alg, Buffer.alloc(4))).toString('hex')]);
    }
    // tpm2_eventlog 5.4 is no reference here: it extends the StartupLocality event's zero digest
    // into PCR 0 instead of starting PCR 0 at the locality (later tpm2-tools releases fixed it).
  });

  it('refuses a StartupLocality event after PCR 0 was extended, or outside PCR 0', () => {
    const late = writeTcgEventLog(['sha256'], [events[1], events[0]]);
    expect(() => parseTcgEventLog(late)).toThrow(expect.objectContaining({ code: 'tcg-log-malformed', message: expect.stringMatching(/event 2 .*after PCR 0/) }));
    const wrong = writeTcgEventLog(['sha256'], [{ ...events[0], pcr: 1 }]);
    expect(refusal(wrong)).toBe('tcg-log-malformed');
  });
});

describe('parseTcgEventLog refusals', () => {
  const good = realEventLog('swtpm.bin');

  it('names truncation with the event number and offset', () => {
    expect(() => parseTcgEventLog(good.subarray(0, good.length - 3))).toThrow(expect.objectContaining({ code: 'tcg-log-truncated', message: expect.stringMatching(/event 103 /) }));
    expect(refusal(good.subarray(0, 10))).toBe('tcg-log-truncated');
    expect(refusal(new Uint8Array())).toBe('tcg-log-truncated');
  });

  it('refuses an oversized log before reading it', () => {
    expect(() => parseTcgEventLog(Buffer.alloc(MAX_TCG_LOG_BYTES + 1))).toThrow(expect.objectContaining({ code: 'tcg-log-too-large', kind: 'too-large' }));
  });

  it('refuses a SHA-1-only (TPM 1.2) log and a wrong header', () => {
    const old = Buffer.from(good);
    old.write('Spec ID Event00', 32, 'latin1');
    expect(refusal(old)).toBe('tcg-log-unsupported');
    const notFirst = Buffer.from(good);
    notFirst.writeUInt32LE(EV.SEPARATOR, 4);
    expect(refusal(notFirst)).toBe('tcg-log-malformed');
  });

  it('refuses a digest of an undeclared bank, a wrong digest count, a PCR beyond 23', () => {
    const log = writeTcgEventLog(['sha256'], [{ pcr: 4, type: EV.SEPARATOR, data: Buffer.alloc(4) }]);
    const header = log.length - (4 + 4 + 4 + 2 + 32 + 4 + 4);
    const alg = Buffer.from(log);
    alg.writeUInt16LE(0x0004, header + 12);
    expect(() => parseTcgEventLog(alg)).toThrow(expect.objectContaining({ code: 'tcg-log-malformed', message: expect.stringMatching(/0x0004 is not declared/) }));
    const count = Buffer.from(log);
    count.writeUInt32LE(2, header + 8);
    expect(refusal(count)).toBe('tcg-log-malformed');
    const pcr = Buffer.from(log);
    pcr.writeUInt32LE(24, header);
    expect(refusal(pcr)).toBe('tcg-log-malformed');
  });

  it('accepts trailing zero padding but not trailing garbage', () => {
    expect(parseTcgEventLog(Buffer.concat([good, Buffer.alloc(64)])).events).toHaveLength(103);
    expect(refusal(Buffer.concat([good, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0])]))).not.toBeNull();
  });

  it('fuzz: random bytes, mutated and truncated real logs give a log or a typed refusal, never anything else', () => {
    const base = realEventLog('ubuntu-qemu.bin');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.record({ at: fc.nat({ max: base.length - 1 }), value: fc.integer({ min: 0, max: 255 }), cut: fc.nat({ max: base.length }) }).map(({ at, value, cut }) => {
            const b = Buffer.from(base);
            b[at] = value;
            return b.subarray(0, Math.max(cut, at + 1));
          }),
          fc.record({ at: fc.nat({ max: base.length - 4 }), value: fc.nat() }).map(({ at, value }) => {
            const b = Buffer.from(base);
            b.writeUInt32LE(value >>> 0, at);
            return b;
          }),
        ),
        (bytes) => {
          const code = refusal(bytes);
          if (code !== null) return;
          const log = parseTcgEventLog(bytes);
          replayTcgEventLog(log);
          for (const e of log.events) JSON.stringify(e); // every decoder runs

        },
      ),
      { numRuns: 12_000 },
    );
  });

  it('fuzz: every decoder returns a value for any bytes (undecodable at worst)', () => {
    const types = Object.values(EV);
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 300 }), (type, bytes) => {
        expect(typeof decodeEventData(type, Buffer.from(bytes)).kind).toBe('string');
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('the readers the measured-boot policy uses agree with the decoders', () => {
  const u32 = (n: number) => Buffer.from(new Uint32Array([n >>> 0]).buffer);
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(n);
    return b;
  };

  it('fuzz: efiVariableLocation accepts exactly the variables decodeEventData decodes, with the same value and name', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.nat({ max: 24 }),
        fc.nat({ max: 48 }),
        fc.constantFrom(0n, 0n, 0n, 0n, 1n << 32n, 1n << 40n),
        fc.boolean(),
        fc.uint8Array({ maxLength: 140, size: 'max' }),
        (guid, nameChars, valueLength, high, highOnName, rest) => {
          const data = Buffer.concat([guid, u64(BigInt(nameChars) + (highOnName ? high : 0n)), u64(BigInt(valueLength) + (highOnName ? 0n : high)), rest]);
          const at = efiVariableLocation(data);
          const d = decodeEventData(EV.EFI_VARIABLE_BOOT, data);
          expect(at !== undefined).toBe(d.kind === 'efi-variable');
          if (at && d.kind === 'efi-variable') {
            expect(data.toString('hex', at.valueOffset, at.valueOffset + at.valueLength)).toBe(d.data);
            expect(efiVariableDataKey(data, at)).toBe(efiVariableKey(d.guid, d.name));
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('fuzz: signatureListEntries walks exactly the entries decodeSignatureLists decodes, and refuses what it refuses', () => {
    const list = fc.record({
      type: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      header: fc.uint8Array({ maxLength: 6 }),
      sigSize: fc.oneof(fc.integer({ min: 16, max: 40 }), fc.integer({ min: 16, max: 40 }), fc.nat({ max: 40 })),
      count: fc.nat({ max: 3 }),
      lie: fc.constantFrom(0, 0, 0, -1, 1, -16, 7),
      fill: fc.nat({ max: 255 }),
    });
    fc.assert(
      fc.property(fc.array(list, { minLength: 1, maxLength: 3 }), fc.nat({ max: 8 }), (lists, cut) => {
        const parts = lists.map((l) => {
          const body = Buffer.alloc(l.sigSize * l.count, l.fill);
          return Buffer.concat([Buffer.from(l.type), u32(28 + l.header.length + body.length + l.lie), u32(l.header.length), u32(l.sigSize), Buffer.from(l.header), body]);
        });
        const whole = Buffer.concat(parts);
        const value = whole.subarray(0, Math.max(0, whole.length - (cut > 5 ? cut : 0)));
        let decoded: { type: string; owner: string; data: string }[] | null;
        try {
          decoded = decodeSignatureLists(value);
        } catch {
          decoded = null;
        }
        const walked: { type: string; owner: string; data: string }[] = [];
        const ok = signatureListEntries(value, (listAt, ownerAt, end) =>
          walked.push({ type: formatGuid(value.subarray(listAt, listAt + 16)), owner: formatGuid(value.subarray(ownerAt, ownerAt + 16)), data: value.toString('hex', ownerAt + 16, end) }),
        );
        expect(ok).toBe(decoded !== null);
        if (ok) expect(walked).toEqual(decoded);
      }),
      { numRuns: 10_000 },
    );
  });
});
