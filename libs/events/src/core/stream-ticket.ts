import { randomBytes } from 'node:crypto';

/**
 * Short-lived, single-use tickets for the dashboard's event stream. EventSource cannot send an
 * Authorization header, and a URL ends up in logs, browser history and proxies: so the page trades
 * its key (in a header) for a ticket that opens one stream within a few seconds and is worthless
 * after. The ticket holds what the stream needs to re-check its key while it runs.
 */
export const TICKET_TTL_MS = 30_000;
const MAX_TICKETS = 10_000;

export class StreamTickets<T> {
  private readonly tickets = new Map<string, { value: T; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(value: T): { ticket: string; expiresInSeconds: number } {
    const now = this.now();
    if (this.tickets.size >= MAX_TICKETS) {
      for (const [k, v] of this.tickets) if (v.until <= now) this.tickets.delete(k);
      // still full: the oldest go first (a Map iterates in insertion order)
      for (const k of this.tickets.keys()) {
        if (this.tickets.size < MAX_TICKETS) break;
        this.tickets.delete(k);
      }
    }
    const ticket = randomBytes(32).toString('base64url');
    this.tickets.set(ticket, { value, until: now + TICKET_TTL_MS });
    return { ticket, expiresInSeconds: TICKET_TTL_MS / 1000 };
  }

  /** The ticket's value once (it is spent), or null if unknown, spent or expired. */
  take(ticket: string): T | null {
    const t = this.tickets.get(ticket);
    if (!t) return null;
    this.tickets.delete(ticket);
    return t.until > this.now() ? t.value : null;
  }
}
