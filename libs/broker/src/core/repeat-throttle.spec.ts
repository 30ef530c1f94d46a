import { RepeatThrottle } from './repeat-throttle';

describe('RepeatThrottle', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 0));

  it('writes the first of a kind, leaves out the rest of the window, and counts them in the next line', () => {
    const t = new RepeatThrottle(1000, clock);
    expect(t.admit('connect-rate')).toEqual({ skipped: 0 });
    for (let i = 0; i < 5; i++) expect(t.admit('connect-rate')).toBeNull();
    expect(t.admit('tls')).toEqual({ skipped: 0 }); // another kind is its own
    now += 999;
    expect(t.admit('connect-rate')).toBeNull();
    now += 1;
    expect(t.admit('connect-rate')).toEqual({ skipped: 6 });
    expect(t.admit('connect-rate')).toBeNull();
    now += 5000;
    expect(t.admit('connect-rate')).toEqual({ skipped: 1 });
  });

  it('remembers a bounded number of kinds', () => {
    const t = new RepeatThrottle(1000, clock, 2);
    expect(t.admit('a')).not.toBeNull();
    expect(t.admit('b')).not.toBeNull();
    expect(t.admit('c')).not.toBeNull(); // 'a' forgotten
    expect(t.admit('a')).toEqual({ skipped: 0 });
    expect(t.admit('c')).toBeNull();
  });
});
