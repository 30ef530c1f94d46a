import { DomainError } from '@fleetguard/common';
import { spkiSha256Hex } from './key-id.hash';
import { OpensslWorkspace } from './testing/openssl.factory';

describe('spkiSha256Hex', () => {
  let ws: OpensslWorkspace;
  beforeAll(() => {
    ws = OpensslWorkspace.create();
  });
  afterAll(() => ws.cleanup());

  it.each([['P-256'], ['Ed25519'], ['RSA-2048']] as const)('matches openssl dgst -sha256 over the DER public key (%s)', (kind) => {
    const spki = ws.publicKeyDer(ws.makeCsr(kind).keyPath);
    const expected = ws.openssl(['dgst', '-sha256', '-r'], spki).split(' ')[0];
    expect(spkiSha256Hex(spki)).toBe(expected);
    expect(spkiSha256Hex(new Uint8Array(spki))).toBe(expected);
  });

  it('refuses an empty key or a non-binary value', () => {
    expect(() => spkiSha256Hex(Buffer.alloc(0))).toThrow(DomainError);
    expect(() => spkiSha256Hex('abc' as never)).toThrow(DomainError);
  });
});
