import { DomainError } from '@fleetguard/common';
import { parseSerialHex, randomSerialNumber } from './serial-number.generator';

describe('serial numbers', () => {
  it('are 16 octets, positive, with a non-zero first octet', () => {
    for (let i = 0; i < 2000; i++) {
      const { bytes, hex } = randomSerialNumber();
      expect(bytes).toHaveLength(16);
      expect(bytes[0]).toBeGreaterThan(0);
      expect(bytes[0]).toBeLessThan(0x80);
      expect(hex).toBe(bytes.toString('hex'));
    }
  });

  it.each<[string, string, string]>([
    ['7f', '7f', '7f'],
    ['80', '80', '0080'],
    ['00FF', 'ff', '00ff'],
    ['0a:0B:0c', '0a0b0c', '0a0b0c'],
    ['abc', '0abc', '0abc'],
    ['000001', '01', '01'],
  ])('reads %s as %s (INTEGER octets %s)', (input, hex, integer) => {
    const serial = parseSerialHex(input);
    expect(serial.hex).toBe(hex);
    expect(serial.integer.toString('hex')).toBe(integer);
  });

  it.each([[''], ['0'], ['00'], ['xyz'], ['-1'], ['ff'.repeat(20)], [undefined], [12]])('refuses %p', (input) => {
    expect(() => parseSerialHex(input as string)).toThrow(DomainError);
  });
});
