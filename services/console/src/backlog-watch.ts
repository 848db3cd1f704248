// Backpressure issues: every 30 s, each destination's oldest pending delivery (the same
// figure as `hookyard destination status`); older than console.issues.backlogAgeSeconds,
// it counts toward the destination's backpressure issue (one occurrence per minute).
import type { Config, Logger } from '@hookyard/core';
import { backlogOccurrence } from './issues.ts';
import type { IndexStore, IssueChange } from './store/driver.ts';
import type { Operations } from './web/operations.ts';

const EVERY_MS = 30_000;

export class BacklogWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private readonly config: Config;
  private readonly store: IndexStore;
  private readonly ops: Pick<Operations, 'destinations'>;
  private readonly onIssues: (c: IssueChange[]) => void;
  private readonly log: Logger;

  constructor(config: Config, store: IndexStore, ops: Pick<Operations, 'destinations'>, onIssues: (c: IssueChange[]) => void, log: Logger) {
    this.config = config;
    this.store = store;
    this.ops = ops;
    this.onIssues = onIssues;
    this.log = log;
  }

  start(everyMs = EVERY_MS): void {
    if (this.config.destinations.length === 0) return;
    const tick = () => {
      this.running = this.check().then(() => {}, (err: unknown) => { this.log.warn({ err: (err as Error).message }, 'backlog check failed; trying again'); })
        .finally(() => { this.running = null; this.timer = setTimeout(tick, everyMs); this.timer.unref(); });
    };
    this.timer = setTimeout(tick, everyMs);
    this.timer.unref();
  }

  async check(now = Date.now()): Promise<IssueChange[]> {
    const threshold = this.config.console.issues.backlogAgeSeconds;
    const occurrences = (await this.ops.destinations()).flatMap((s) => {
      const o = s.oldestPendingAgeSeconds === null ? null : backlogOccurrence(s.name, s.oldestPendingAgeSeconds, s.pending, threshold, now);
      return o ? [o] : [];
    });
    const changes = await this.store.recordIssues(occurrences);
    this.onIssues(changes);
    return changes;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.running;
  }
}
