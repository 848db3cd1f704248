// Paces work to a rate (per second) so a replay cannot flood a recovering destination.
import { setTimeout as sleep } from 'node:timers/promises';

export class Throttle {
  private readonly intervalMs: number;
  private next = 0;
  constructor(perSecond: number | undefined) {
    this.intervalMs = perSecond ? 1000 / perSecond : 0;
  }

  /** Waits until `n` more units may go. */
  async take(n = 1): Promise<void> {
    if (this.intervalMs === 0) return;
    const now = performance.now();
    this.next = Math.max(this.next, now);
    const wait = this.next - now;
    this.next += n * this.intervalMs;
    if (wait > 0) await sleep(wait);
  }
}
