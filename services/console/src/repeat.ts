// The console's periodic work (receipt SLAs, backlogs, destination states, alert publishing):
// run, then again `everyMs` after the run ends (never two at once); a failed run is logged
// and the next one tries again; stop() lets a run in progress finish and starts no other.
import type { Logger } from '@hookyard/core';

export class Repeat {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly work: () => Promise<unknown>;
  private readonly everyMs: number;
  private readonly failed: string;
  private readonly log: Logger;

  /** `failed`: what the log says when a run throws. */
  constructor(work: () => Promise<unknown>, everyMs: number, log: Logger, failed: string) {
    this.work = work;
    this.everyMs = everyMs;
    this.log = log;
    this.failed = failed;
  }

  /** `immediately`: the first run now, else after one interval. */
  start(immediately: boolean): void {
    const tick = () => {
      this.running = this.work().then(() => {}, (err: unknown) => { this.log.warn({ err: (err as Error).message }, this.failed); })
        .finally(() => { this.running = null; this.schedule(tick); });
    };
    if (immediately) tick();
    else this.schedule(tick);
  }

  private schedule(tick: () => void): void {
    if (this.stopped) return;
    this.timer = setTimeout(tick, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
