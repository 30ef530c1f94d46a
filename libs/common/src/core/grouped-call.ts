/** Most items one grouped statement takes (its arrays grow with it). */
export const MAX_GROUP = 256;

interface Pending<T, R> {
  item: T;
  resolve(v: R): void;
  reject(e: unknown): void;
}

/**
 * Groups calls into one statement: whatever is asked while the groups in flight run goes in the
 * next one (no timer: a lone call goes at once, a burst shares one statement). `inFlight` groups
 * may run at once (default 1: one after the other). `keys` names what may appear once among
 * the groups in flight (e.g. a device, a nonce); an item whose key is taken waits for a later
 * group. A failed statement fails every call of its group.
 */
export class GroupedCall<T, R> {
  private pending: Array<Pending<T, R>> = [];
  private running = 0;
  private scheduled = false;
  /** Keys of the items in the groups in flight. */
  private readonly held = new Set<string>();

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly keys: (item: T) => Array<string | null> = () => [],
    private readonly max = MAX_GROUP,
    private readonly inFlight = 1,
  ) {}

  call(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled && this.running < this.inFlight) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.launch();
        });
      }
    });
  }

  /** Starts groups while there is room and something pending can go. */
  private launch(): void {
    while (this.running < this.inFlight && this.pending.length) {
      const group: Array<Pending<T, R>> = [];
      const rest: Array<Pending<T, R>> = [];
      const taken: string[] = [];
      for (const p of this.pending) {
        const ks = this.keys(p.item).filter((k): k is string => k !== null);
        if (group.length >= this.max || ks.some((k) => this.held.has(k))) {
          rest.push(p);
          continue;
        }
        for (const k of ks) {
          this.held.add(k);
          taken.push(k);
        }
        group.push(p);
      }
      this.pending = rest;
      if (!group.length) return; // everything pending waits for a key in flight
      this.running++;
      void this.runGroup(group, taken);
    }
  }

  private async runGroup(group: Array<Pending<T, R>>, taken: string[]): Promise<void> {
    let out: R[] | undefined;
    let error: unknown;
    let failed = false;
    try {
      out = await this.run(group.map((p) => p.item));
    } catch (e) {
      failed = true;
      error = e;
    }
    this.running--;
    for (const k of taken) this.held.delete(k);
    if (failed) for (const p of group) p.reject(error);
    else group.forEach((p, i) => p.resolve(out![i]));
    this.launch();
  }
}
