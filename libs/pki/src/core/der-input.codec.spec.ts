import { DomainError } from '@fleetguard/common';
import { decodeDerInput, DerInputOptions, pemEncode } from './der-input.codec';

const options: DerInputOptions = { pemLabels: ['THING'], errorPrefix: 'thing', what: 'thing', maxBytes: 1024 };
const der = Buffer.from('3006020101020102', 'hex');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return (e as DomainError).code;
  }
  throw new Error('expected a DomainError');
}

describe('decodeDerInput', () => {
  it('reads PEM (LF or CRLF, with explanatory text), base64 and DER alike', () => {
    const pem = pemEncode(der, 'THING');
    expect(pem).toBe('-----BEGIN THING-----\nMAYCAQECAQI=\n-----END THING-----\n');
    for (const input of [pem, pem.replace(/\n/g, '\r\n'), `Subject: whatever\n${pem}`, Buffer.from(pem), 'MAYCAQECAQI=', ' MAYC\nAQEC\r\nAQI= ', der]) {
      expect(decodeDerInput(input, options)).toEqual(der);
    }
  });

  it.each<[string, unknown, string]>([
    ['PEM headers', '-----BEGIN THING-----\nProc-Type: 4,ENCRYPTED\n\nMAYCAQECAQI=\n-----END THING-----\n', 'thing.malformed'],
    ['mismatched armour', '-----BEGIN THING-----\nMAYCAQECAQI=\n-----END OTHER-----\n', 'thing.malformed'],
    ['a stray END line', '-----BEGIN THING-----\nMAYCAQECAQI=\n-----END THING-----\n-----END THING-----', 'thing.malformed'],
    ['base64 of non-DER', 'aGVsbG8=', 'thing.malformed'],
    ['an impossible base64 length', 'MAYCA', 'thing.malformed'],
    ['an object', { length: 3 }, 'thing.malformed'],
    ['too much DER', Buffer.concat([Buffer.from([0x30]), Buffer.alloc(2000)]), 'thing.too-large'],
  ])('refuses %s', (_what, input, expected) => {
    expect(code(() => decodeDerInput(input as string, options))).toBe(expected);
  });
});
