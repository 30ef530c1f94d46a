import { AuditChainVerifier, AuditRecord, GENESIS_HASH, canonicalJson, chain } from './audit-chain';

const record = (seq: number, over: Partial<AuditRecord> = {}): AuditRecord => ({
  seq,
  at: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
  actor: 'key:abc',
  organizationId: null,
  action: 'POST /api/v1/products',
  resource: `products/${seq}`,
  outcome: '201',
  details: { b: 1, a: [1, { z: 2, y: 3 }] },
  ...over,
});

function build(n: number) {
  const out = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const c = chain(prev, record(i));
    out.push(c);
    prev = c.hash;
  }
  return out;
}

describe('audit chain', () => {
  it('verifies an intact chain, fed in batches', () => {
    const entries = build(10);
    const v = new AuditChainVerifier();
    v.feed(entries.slice(0, 4));
    v.feed(entries.slice(4));
    expect(v.result()).toEqual({ ok: true, entries: 10, head: entries[9].hash });
  });

  it('names an altered entry', () => {
    const entries = build(5);
    entries[2] = { ...entries[2], outcome: '403' };
    const v = new AuditChainVerifier();
    v.feed(entries);
    expect(v.result()).toMatchObject({ ok: false, brokenAt: 3, reason: expect.stringContaining('altered') });
  });

  it('names a removed entry', () => {
    const entries = build(5);
    entries.splice(1, 1);
    const v = new AuditChainVerifier();
    v.feed(entries);
    expect(v.result()).toMatchObject({ ok: false, brokenAt: 3, reason: expect.stringContaining('removed') });
  });

  it('names a re-hashed entry that no longer links', () => {
    const entries = build(4);
    entries[1] = chain(GENESIS_HASH, { ...record(2), actor: 'mallory' });
    const v = new AuditChainVerifier();
    v.feed(entries);
    expect(v.result()).toMatchObject({ ok: false, brokenAt: 2 });
  });

  it('hashes independently of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 1, c: 2 } })).toBe(canonicalJson({ a: { c: 2, d: 1 }, b: 1 }));
  });
});
