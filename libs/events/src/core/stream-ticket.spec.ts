import { StreamTickets, TICKET_TTL_MS } from './stream-ticket';

describe('StreamTickets', () => {
  it('a ticket opens once, and not after it expires', () => {
    let now = 1_000;
    const t = new StreamTickets<string>(() => now);
    const a = t.issue('key-a');
    expect(a.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(t.take(a.ticket)).toBe('key-a');
    expect(t.take(a.ticket)).toBeNull();
    const b = t.issue('key-b');
    now += TICKET_TTL_MS + 1;
    expect(t.take(b.ticket)).toBeNull();
    expect(t.take('made-up')).toBeNull();
  });

  it('stays bounded under a flood of issues', () => {
    const t = new StreamTickets<number>();
    let last = '';
    for (let i = 0; i < 10_050; i++) last = t.issue(i).ticket;
    expect(t.take(last)).toBe(10_049);
    expect((t as unknown as { tickets: Map<string, unknown> }).tickets.size).toBeLessThanOrEqual(10_000);
  });
});
