/**
 * Holds back repeated log lines: at most `burst` lines of one shape per `windowMs`; the lines held
 * back are counted and reported once when the shape's window ends (with the next line of that
 * shape, or by `flush`). A shape is the line with its numbers, ids and quoted values blanked, so a
 * failing database writing "appraisal of <uuid> failed" for every message is one shape.
 */
export class RepeatLimiter {
  private readonly windows = new Map<string, { start: number; count: number; held: number }>();

  constructor(
    private readonly burst = 5,
    private readonly windowMs = 10_000,
    private readonly maxShapes = 1000,
  ) {}

  static shapeOf(line: string): string {
    return line
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
      .replace(/"[^"]*"|'[^']*'/g, '<q>')
      .replace(/\b[0-9a-f]{16,}\b/gi, '<hex>')
      .replace(/\d+(\.\d+)?/g, '<n>')
      .slice(0, 300);
  }

  /**
   * Whether to write this line now, and how many of its shape were held back in the window that
   * just ended (to be said alongside it).
   */
  admit(line: string, now = Date.now()): { write: boolean; heldBefore: number } {
    const shape = RepeatLimiter.shapeOf(line);
    let w = this.windows.get(shape);
    let heldBefore = 0;
    if (w && now - w.start >= this.windowMs) {
      heldBefore = w.held;
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= this.maxShapes) this.windows.clear();
      w = { start: now, count: 0, held: 0 };
      this.windows.set(shape, w);
    }
    w.count++;
    if (w.count > this.burst) {
      w.held++;
      return { write: false, heldBefore };
    }
    return { write: true, heldBefore };
  }
}
