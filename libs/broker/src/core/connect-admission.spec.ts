import { AdmissionTicket, ConnectAdmission, ConnectLimits } from './connect-admission';

describe('ConnectAdmission', () => {
  let now = 0;
  const clock = () => now;
  /** Timers the admission asked for: due time and callback (run by `advance`). */
  let timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  const schedule = (fn: () => void, ms: number) => {
    const t = { at: now + ms, fn, cancelled: false };
    timers.push(t);
    return () => (t.cancelled = true);
  };
  /** Moves the clock on, running the timers that fall due on the way, in order. */
  function advance(ms: number) {
    const until = now + ms;
    for (;;) {
      const due = timers.filter((t) => !t.cancelled && t.at <= until).sort((x, y) => x.at - y.at)[0];
      if (!due) break;
      timers = timers.filter((t) => t !== due);
      now = due.at;
      due.fn();
    }
    now = until;
  }
  beforeEach(() => {
    now = 0;
    timers = [];
  });

  /** A connection as the broker handles it: what happened to it, and its ticket. */
  function connection(a: ConnectAdmission) {
    const c: { state: 'running' | 'waiting' | 'refused' | 'expired'; reason?: string; ticket?: AdmissionTicket } = { state: 'refused' };
    const { verdict, ticket } = a.admit(
      () => (c.state = 'running'),
      () => (c.state = 'expired'),
    );
    if (verdict.ok) c.state = verdict.waiting ? 'waiting' : 'running';
    else c.reason = verdict.reason;
    c.ticket = ticket;
    return c;
  }
  const make = (limits: ConnectLimits) => new ConnectAdmission(limits, clock, schedule);

  it('without a wait room: admits a burst, then refuses until tokens come back at the rate', () => {
    const a = make({ ratePerSecond: 10, burst: 5, maxHandshakes: 100 });
    for (let i = 0; i < 5; i++) expect(connection(a).state).toBe('running');
    expect(connection(a)).toMatchObject({ state: 'refused', reason: 'connect-rate' });
    now += 100; // 10/s: one token after 100 ms
    expect(connection(a).state).toBe('running');
    expect(connection(a).state).toBe('refused');
    now += 10_000; // a long quiet time refills only up to the burst
    let n = 0;
    while (connection(a).state === 'running') n++;
    expect(n).toBe(5);
  });

  it('refuses while too many handshakes are in progress (no wait room), and admits again as they settle', () => {
    const a = make({ ratePerSecond: 1000, burst: 1000, maxHandshakes: 3 });
    const running = [connection(a), connection(a), connection(a)];
    expect(running.map((c) => c.state)).toEqual(['running', 'running', 'running']);
    expect(connection(a)).toMatchObject({ state: 'refused', reason: 'handshakes-in-progress' });
    expect(a.handshakesInProgress).toBe(3);
    running[0].ticket!.settled();
    running[0].ticket!.settled(); // twice: counted once
    expect(a.handshakesInProgress).toBe(2);
    expect(connection(a).state).toBe('running');
    expect(a.handshakesInProgress).toBe(3);
  });

  it('a refusal for the handshake limit spends no token', () => {
    const a = make({ ratePerSecond: 1, burst: 2, maxHandshakes: 1 });
    const first = connection(a);
    for (let i = 0; i < 10; i++) expect(connection(a)).toMatchObject({ reason: 'handshakes-in-progress' });
    first.ticket!.settled();
    expect(connection(a).state).toBe('running'); // the second token of the burst is still there
  });

  it('lets connections over the handshake limit wait, first come first served, and starts each as a slot frees', () => {
    const a = make({ ratePerSecond: 1000, burst: 1000, maxHandshakes: 2, maxWaiting: 2, maxWaitMs: 5000 });
    const [r1, r2, w1, w2, over] = [connection(a), connection(a), connection(a), connection(a), connection(a)];
    expect([r1.state, r2.state, w1.state, w2.state]).toEqual(['running', 'running', 'waiting', 'waiting']);
    expect(over).toMatchObject({ state: 'refused', reason: 'handshakes-in-progress' });
    expect([a.handshakesInProgress, a.handshakesWaiting]).toEqual([2, 2]);
    r2.ticket!.settled();
    expect([w1.state, w2.state]).toEqual(['running', 'waiting']);
    // A newcomer does not jump the queue while a slot is taken and someone waits.
    const late = connection(a);
    expect(late.state).toBe('waiting');
    r1.ticket!.settled();
    expect([w2.state, late.state]).toEqual(['running', 'waiting']);
    expect([a.handshakesInProgress, a.handshakesWaiting]).toEqual([2, 1]);
  });

  it('a waiter that leaves frees its place; one that waited too long is expired and its place freed', () => {
    const a = make({ ratePerSecond: 1000, burst: 1000, maxHandshakes: 1, maxWaiting: 2, maxWaitMs: 1000 });
    const r = connection(a);
    const gone = connection(a);
    const slow = connection(a);
    gone.ticket!.settled(); // its socket closed while it waited
    expect(a.handshakesWaiting).toBe(1);
    now += 999;
    a.sweep();
    expect(slow.state).toBe('waiting');
    now += 1;
    a.sweep();
    expect(slow.state).toBe('expired');
    slow.ticket!.settled(); // the caller closes it and settles: nothing more happens
    expect([a.handshakesInProgress, a.handshakesWaiting]).toEqual([1, 0]);
    r.ticket!.settled();
    expect([a.handshakesInProgress, a.handshakesWaiting]).toEqual([0, 0]);
    expect(gone.state).toBe('waiting'); // never started
  });

  it('lets connections over the rate wait, and starts them as tokens come back, at the rate', () => {
    const a = make({ ratePerSecond: 10, burst: 2, maxHandshakes: 100, maxWaiting: 3, maxWaitMs: 5000 });
    const [r1, r2, w1, w2, w3] = [connection(a), connection(a), connection(a), connection(a), connection(a)];
    expect([r1.state, r2.state, w1.state, w2.state, w3.state]).toEqual(['running', 'running', 'waiting', 'waiting', 'waiting']);
    // The room is full: the next is refused, named after the rate (the slots are free).
    expect(connection(a)).toMatchObject({ state: 'refused', reason: 'connect-rate' });
    advance(99);
    expect(w1.state).toBe('waiting');
    advance(1); // 10/s: a token after 100 ms starts the first waiter, without a new connection
    expect([w1.state, w2.state, w3.state]).toEqual(['running', 'waiting', 'waiting']);
    advance(100);
    expect([w2.state, w3.state]).toEqual(['running', 'waiting']);
    advance(100);
    expect(w3.state).toBe('running');
    expect([a.handshakesInProgress, a.handshakesWaiting]).toEqual([5, 0]);
    expect(timers.filter((t) => !t.cancelled)).toHaveLength(0); // nobody waits: no timer left
  });

  it('a newcomer does not pass a connection waiting for a token, and a waiter needs a slot and a token both', () => {
    const a = make({ ratePerSecond: 10, burst: 1, maxHandshakes: 1, maxWaiting: 5, maxWaitMs: 5000 });
    const r = connection(a);
    const w1 = connection(a);
    advance(500); // tokens back, but the slot is taken
    expect(w1.state).toBe('waiting');
    const late = connection(a);
    expect(late.state).toBe('waiting');
    r.ticket!.settled(); // a slot and a token: the first waiter, not the newcomer
    expect([w1.state, late.state]).toEqual(['running', 'waiting']);
    w1.ticket!.settled(); // a slot, no token left (burst 1)
    expect(late.state).toBe('waiting');
    advance(100);
    expect(late.state).toBe('running');
  });

  it('a waiter waiting for a token expires like one waiting for a slot, and close() cancels the token timer', () => {
    const a = make({ ratePerSecond: 0.5, burst: 1, maxHandshakes: 10, maxWaiting: 5, maxWaitMs: 1000 });
    connection(a);
    const w = connection(a);
    advance(1000);
    a.sweep();
    expect(w.state).toBe('expired');
    const w2 = connection(a);
    a.close();
    advance(10_000);
    expect(w2.state).toBe('waiting'); // no timer ran after close (it is expired by the next sweep)
    a.sweep();
    expect(w2.state).toBe('expired');
  });

  it('rejects nonsensical limits', () => {
    expect(() => make({ ratePerSecond: 0, burst: 1, maxHandshakes: 1 })).toThrow(/positive rate/);
    expect(() => make({ ratePerSecond: 1, burst: 0, maxHandshakes: 1 })).toThrow();
    expect(() => make({ ratePerSecond: 1, burst: 1, maxHandshakes: 1, maxWaiting: -1 })).toThrow();
    expect(() => make({ ratePerSecond: 1, burst: 1, maxHandshakes: 1, maxWaitMs: 0 })).toThrow();
  });
});
