import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ZERO_PCR } from './digest';
import { BootEvent, comparePcrs, replayEventLog } from './event-log.replay';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('replayEventLog', () => {
  // Known answers. The first was read back from swtpm (tpm2_pcrextend 4:sha256=sha256("a"),
  // tpm2_pcrread); the others computed with Python's hashlib, independently of this code.
  it('matches a value a real TPM produced', () => {
    expect(replayEventLog([{ pcr: 4, component: 'a', digest: sha('a') }])).toEqual({
      '4': '8c374a53782642f7514d087d26a3e733f1b806009a03e04a43b288ef2fa9f9c0',
    });
  });

  it('chains events in order within a PCR', () => {
    const b = { pcr: 2, component: 'bootloader', digest: sha('bootloader') };
    const k = { pcr: 2, component: 'kernel', digest: sha('kernel') };
    expect(replayEventLog([b, k])['2']).toBe('7e426670c646d8329c84a1b5ac97e9aaed2d52f4528e1a31ba3d1572e87e05b1');
    expect(replayEventLog([k, b])['2']).toBe('1458c69f630cc7d39700b9530840b79e7ed21d068c1a99fbdab1524d81b8e1ee');
  });

  it('extends from 32 zero bytes (extending zeros is not a no-op)', () => {
    expect(replayEventLog([{ pcr: 0, component: 'z', digest: ZERO_PCR }])).toEqual({
      '0': 'f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b',
    });
  });

  it('returns only the PCRs the log touches, keyed by decimal index, lowercase', () => {
    const out = replayEventLog([
      { pcr: 7, component: 'x', digest: sha('x').toUpperCase() },
      { pcr: 0, component: 'y', digest: sha('y') },
    ]);
    expect(Object.keys(out)).toEqual(['0', '7']);
    expect(out['7']).toMatch(/^[0-9a-f]{64}$/);
    expect(replayEventLog([])).toEqual({});
  });

  it('keeps PCRs independent: interleaving other PCRs does not change a PCR', () => {
    const event = fc.record({ pcr: fc.integer({ min: 0, max: 23 }), component: fc.constant('c'), digest: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')) });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events: BootEvent[]) => {
        const all = replayEventLog(events);
        for (const pcr of Object.keys(all)) {
          expect(replayEventLog(events.filter((e) => e.pcr === Number(pcr)))[pcr]).toBe(all[pcr]);
        }
      }),
      { numRuns: 50 },
    );
  });

  it.each([
    [{ pcr: 24, component: 'c', digest: ZERO_PCR }, 'pcr must be'],
    [{ pcr: -1, component: 'c', digest: ZERO_PCR }, 'pcr must be'],
    [{ pcr: 1.5, component: 'c', digest: ZERO_PCR }, 'pcr must be'],
    [{ pcr: 1, component: 'c', digest: 'abc' }, 'digest must be 64 hex'],
    [{ pcr: 1, component: 'c', digest: 'g'.repeat(64) }, 'digest must be 64 hex'],
  ])('refuses %j', (event, message) => {
    expect(() => replayEventLog([event as BootEvent])).toThrow(expect.objectContaining({ code: 'event-log-invalid', message: expect.stringContaining(message) }));
  });

  it('answers a log it replayed before the same way, with a copy the caller may change', () => {
    const log: BootEvent[] = [0, 1, 2, 7].map((pcr) => ({ pcr, component: `c${pcr}`, digest: sha(`r${pcr}`) }));
    const first = replayEventLog(log);
    first['0'] = 'changed';
    const again = replayEventLog(log.map((e) => ({ ...e })));
    expect(again['0']).toBe(createHash('sha256').update(Buffer.concat([Buffer.from(ZERO_PCR, 'hex'), Buffer.from(sha('r0'), 'hex')])).digest('hex'));
    expect(replayEventLog(log)).toEqual(again);
    // One digest different: a different answer, not the remembered one.
    expect(replayEventLog([...log.slice(0, 3), { ...log[3], digest: sha('other') }])['7']).not.toBe(again['7']);
  });

  it('still checks a log that reads like one it remembers', () => {
    const log: BootEvent[] = [{ pcr: 1, component: 'k', digest: sha('k') }];
    replayEventLog(log);
    expect(() => replayEventLog([{ pcr: '1' as unknown as number, component: 'k', digest: sha('k') }])).toThrow(/pcr must be an integer/);
    expect(() => replayEventLog([{ pcr: 1, component: 'k', digest: `${sha('k').slice(0, 63)}g` }])).toThrow(/64 hex/);
  });

  it('replays logs longer than the ones it remembers, and many different logs', () => {
    const long: BootEvent[] = Array.from({ length: 100 }, (_, i) => ({ pcr: i % 3, component: `c${i}`, digest: sha(`l${i}`) }));
    let pcr0 = ZERO_PCR;
    for (let i = 0; i < 100; i += 3) pcr0 = createHash('sha256').update(Buffer.from(pcr0 + sha(`l${i}`), 'hex')).digest('hex');
    expect(replayEventLog(long)['0']).toBe(pcr0);
    for (let i = 0; i < 600; i++) {
      const d = sha(`m${i}`);
      expect(replayEventLog([{ pcr: 5, component: 'x', digest: d }])['5']).toBe(createHash('sha256').update(Buffer.from(ZERO_PCR + d, 'hex')).digest('hex'));
    }
  });

  it('refuses more than 512 events', () => {
    const events = Array.from({ length: 513 }, () => ({ pcr: 0, component: 'c', digest: ZERO_PCR }));
    expect(() => replayEventLog(events)).toThrow(expect.objectContaining({ code: 'event-log-invalid' }));
  });
});

describe('comparePcrs', () => {
  const replayed = replayEventLog([{ pcr: 4, component: 'k', digest: sha('k') }]);

  it('accepts the replay, in any hex case, plus untouched PCRs reported as zeros', () => {
    expect(comparePcrs({ '4': replayed['4'].toUpperCase(), '5': ZERO_PCR }, replayed)).toEqual([]);
  });

  it('names a differing, an unreported, and a non-zero untouched PCR', () => {
    expect(comparePcrs({ '4': sha('other') }, replayed)).toEqual([{ pcr: 4, reported: sha('other'), replayed: replayed['4'] }]);
    expect(comparePcrs({}, replayed)).toEqual([{ pcr: 4, reported: null, replayed: replayed['4'] }]);
    expect(comparePcrs({ ...replayed, '9': sha('x') }, replayed)).toEqual([{ pcr: 9, reported: sha('x'), replayed: ZERO_PCR }]);
  });
});
