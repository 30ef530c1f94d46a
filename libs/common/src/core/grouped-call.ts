/** Most items one grouped statement takes (its arrays grow with it). */
export const MAX_GROUP = 256;

interface Pending<T, R> {
  item: T;
  resolve(v: R): void;
  reject(e: unknown): void;
}

/**
 * Groups calls into one statement: whatever is asked while the previous group is in flight goes
 * in the next one (no timer: a lone call goes at once, a burst shares one statement). `keys`
 * names what may appear once per group (e.g. a device, a nonce); an item whose key is taken
 * waits for the next group. A failed statement fails every call of its group.
 */
export class GroupedCall<T, R> {
  private pending: Array<Pending<T, R>> = [];
  private flushing = false;

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly keys: (item: T) => Array<string | null> = () => [],
    private readonly max = MAX_GROUP,
  ) {}

  call(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const group: Array<Pending<T, R>> = [];
      const rest: Array<Pending<T, R>> = [];
      const taken = new Set<string>();
      for (const p of this.pending) {
        const ks = this.keys(p.item).filter((k): k is string => k !== null);
        if (group.length >= this.max || ks.some((k) => taken.has(k))) {
          rest.push(p);
          continue;
        }
        for (const k of ks) taken.add(k);
        group.push(p);
      }
      this.pending = rest;
      let out: R[];
      try {
        out = await this.run(group.map((p) => p.item));
      } catch (e) {
        for (const p of group) p.reject(e);
        continue;
      }
      group.forEach((p, i) => p.resolve(out[i]));
    }
    this.flushing = false;
  }
}
