import { AuditDevice, AuditInput, auditCertificates } from './certificate-audit';

const now = new Date('2026-12-01T00:00:00Z');
const day = 86_400_000;
const device = (id: string, over: Partial<AuditDevice> = {}): AuditDevice => ({
  deviceId: id,
  status: 'active',
  keyType: 'P-256',
  publicKeyHex: `key-${id}`,
  certSerial: `s-${id}`,
  certNotAfter: new Date(now.getTime() + 300 * day),
  certStatus: 'valid',
  caGeneration: 1,
  rekeyRequestedAt: null,
  ...over,
});
const input = (over: Partial<AuditInput>): AuditInput => ({ now, withinDays: 30, caWithinDays: 90, minRsaBits: 3072, devices: [], cas: [], connected: [], duplicateClientIds: [], ...over });
const kinds = (i: AuditInput) => auditCertificates(i).map((f) => `${f.kind}:${f.deviceId ?? f.deviceIds?.join('+') ?? f.caGeneration ?? 'root'}`);

describe('certificate audit', () => {
  it('finds nothing in a healthy fleet', () => {
    expect(kinds(input({ devices: [device('a'), device('b')], cas: [{ generation: 1, subject: 'CA 1', notAfter: new Date(now.getTime() + 3000 * day) }], connected: [{ deviceId: 'a', serialHex: 's-a', certificateRevoked: false }] }))).toEqual([]);
  });

  it('expiring within N days, and expired without renewal', () => {
    const devices = [device('soon', { certNotAfter: new Date(now.getTime() + 10 * day) }), device('gone', { certNotAfter: new Date(now.getTime() - day) }), device('later', { certNotAfter: new Date(now.getTime() + 31 * day) })];
    expect(kinds(input({ devices }))).toEqual(['device-certificate-expiring:soon', 'device-not-renewed:gone']);
    expect(kinds(input({ devices, withinDays: 40 }))).toContain('device-certificate-expiring:later');
  });

  it('a revoked device is not reported as expiring or sharing a key', () => {
    expect(kinds(input({ devices: [device('r', { status: 'revoked', certNotAfter: new Date(now.getTime() + day), publicKeyHex: 'k' }), device('x', { publicKeyHex: 'k' })] }))).toEqual([]);
  });

  it('weak keys below the current RSA policy', () => {
    expect(kinds(input({ devices: [device('r2048', { keyType: 'RSA', rsaBits: 2048 }), device('r3072', { keyType: 'RSA', rsaBits: 3072 })] }))).toEqual(['weak-key:r2048']);
  });

  it('one public key on several devices', () => {
    expect(kinds(input({ devices: [device('b', { publicKeyHex: 'k' }), device('a', { publicKeyHex: 'k' }), device('c')] }))).toEqual(['key-shared:a+b']);
  });

  it('issuing CA and root expiring', () => {
    const f = auditCertificates(input({ cas: [{ generation: 1, subject: 'CA 1', notAfter: new Date(now.getTime() + 10 * day) }, { generation: 'root', subject: 'Root', notAfter: new Date(now.getTime() - day) }] }));
    expect(f.map((x) => [x.kind, x.caGeneration, x.severity])).toEqual([['ca-certificate-expiring', 1, 'medium'], ['ca-certificate-expiring', undefined, 'high']]);
  });

  it('revoked but still connected, a client id on two connections, a pending re-key', () => {
    const f = kinds(
      input({
        devices: [device('rev', { status: 'revoked' }), device('ok', { rekeyRequestedAt: now })],
        connected: [{ deviceId: 'rev', serialHex: 's-rev', certificateRevoked: false }, { deviceId: 'ok', serialHex: 'old', certificateRevoked: true }],
        duplicateClientIds: [{ deviceId: 'ok', at: now, count: 2 }],
      }),
    );
    expect(f).toEqual(['rekey-pending:ok', 'revoked-but-connected:rev', 'revoked-but-connected:ok', 'client-id-on-two-connections:ok']);
  });
});
