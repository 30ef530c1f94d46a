import fc from 'fast-check';
import { decodeUeidText, encodeUeidText, imeiUeid, parseUeidHex, ueidCreationProblem } from './ueid';

/** Examples hand-checked against RFC 9711's text (cddl/Example-Payloads of ietf-rats-wg/eat). */
describe('RFC 9711 UEIDs', () => {
  it("reads the RFC's own example: ueid AgAEizrK3Q is type 0x02 (IEEE EUI) and a 48-bit MAC", () => {
    const b = decodeUeidText('AgAEizrK3Q')!;
    expect(b.toString('hex')).toBe('0200048b3acadd');
    expect(ueidCreationProblem(b)).toBeNull();
    expect(encodeUeidText(b)).toBe('AgAEizrK3Q');
  });

  it("flags the RFC's valid_results example AZj1Ck_2wFhhyIYNE6Y4: well-formed text, but a RAND UEID of 112 bits (the RFC's floor is 128)", () => {
    const b = decodeUeidText('AZj1Ck_2wFhhyIYNE6Y4')!;
    expect(b).toHaveLength(15);
    expect(ueidCreationProblem(b)).toMatch(/RAND UEID \(type 0x01\) carries 16, 24 or 32 random bytes, not 14/);
  });

  it('refuses padded base64 (the RFC example submods.json writes AJj1Ck_2wFhhyIYNE6Y46g==) and a type byte the RFC does not define', () => {
    expect(decodeUeidText('AJj1Ck_2wFhhyIYNE6Y46g==')).toBeNull();
    expect(ueidCreationProblem(Buffer.from('AJj1Ck_2wFhhyIYNE6Y46g', 'base64url'))).toMatch(/type 0x00 is not one RFC 9711 defines/);
  });

  it('syntax: 7 to 33 bytes of base64url, canonical, no padding', () => {
    expect(decodeUeidText(Buffer.alloc(6, 1).toString('base64url'))).toBeNull();
    expect(decodeUeidText(Buffer.alloc(34, 1).toString('base64url'))).toBeNull();
    expect(decodeUeidText(Buffer.alloc(7, 1).toString('base64url'))).toHaveLength(7);
    expect(decodeUeidText(Buffer.alloc(33, 1).toString('base64url'))).toHaveLength(33);
    expect(decodeUeidText('AgAEizrK3R')).toBeNull(); // the same bytes with stray low bits
    expect(decodeUeidText('AgAEizrK3Q+')).toBeNull();
  });

  it('creation rules per type: RAND 17/25/33, EUI 7/9, IMEI 15 digits', () => {
    for (const n of [16, 24, 32]) expect(ueidCreationProblem(Buffer.concat([Buffer.from([1]), Buffer.alloc(n, 7)]))).toBeNull();
    for (const n of [15, 17, 20, 31]) expect(ueidCreationProblem(Buffer.concat([Buffer.from([1]), Buffer.alloc(n, 7)]))).not.toBeNull();
    for (const n of [6, 8]) expect(ueidCreationProblem(Buffer.concat([Buffer.from([2]), Buffer.alloc(n, 7)]))).toBeNull();
    expect(ueidCreationProblem(Buffer.concat([Buffer.from([2]), Buffer.alloc(7, 7)]))).toMatch(/EUI-48/);
    // IMEI 35-209900-176148-1 (3GPP TS 23.003 example): 14 digits, one per byte, the Luhn digit dropped
    const imei = imeiUeid('35-209900-176148-1');
    expect(imei.toString('hex')).toBe('030305020009090000010706010408');
    expect(ueidCreationProblem(imei)).toBeNull();
    expect(ueidCreationProblem(Buffer.from('03' + '33'.repeat(14), 'hex'))).toMatch(/byte 1 is 0x33/); // ASCII digits are wrong
  });

  it('enrollment input is hex, with or without separators; the creation rules apply', () => {
    expect(parseUeidHex('02:00:04:8b:3a:ca:dd')).toEqual({ ueid: Buffer.from('0200048b3acadd', 'hex') });
    expect(parseUeidHex('AgAEizrK3Q')).toEqual({ problem: expect.stringMatching(/hex/) });
    expect(parseUeidHex('01' + '00'.repeat(15))).toEqual({ problem: expect.stringMatching(/RAND/) });
  });

  it('never throws on arbitrary text, and what it accepts re-encodes to itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (t) => {
        const b = decodeUeidText(t);
        if (b) expect(encodeUeidText(b)).toBe(t);
        parseUeidHex(t);
      }),
      { numRuns: 2000 },
    );
    fc.assert(fc.property(fc.uint8Array({ minLength: 7, maxLength: 33 }), (u) => expect(decodeUeidText(encodeUeidText(Buffer.from(u)))).toEqual(Buffer.from(u))));
  });
});
