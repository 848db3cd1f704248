// Backpressure issues: every 30 s, each destination's oldest pending delivery (the same
// figure as `hookyard destination status`); older than console.issues.backlogAgeSeconds,
// it counts toward the destination's backpressure issue (one occurrence per minute).
import type { Config, Logger } from '@hookyard/core';
import { backlogOccurrence } from './issues.ts';
import { Repeat } from './repeat.ts';
import type { IndexStore, IssueChange } from './store/driver.ts';
import type { Operations } from './web/operations.ts';

const EVERY_MS = 30_000;

export class BacklogWatch {
  private readonly config: Config;
  private readonly repeat: Repeat;
  private readonly store: IndexStore;
  private readonly ops: Pick<Operations, 'destinations'>;
  private readonly onIssues: (c: IssueChange[]) => void;

  constructor(config: Config, store: IndexStore, ops: Pick<Operations, 'destinations'>, onIssues: (c: IssueChange[]) => void, log: Logger) {
    this.config = config;
    this.store = store;
    this.ops = ops;
    this.onIssues = onIssues;
    this.repeat = new Repeat(() => this.check(), EVERY_MS, log, 'backlog check failed; trying again');
  }

  start(): void {
    if (this.config.destinations.length === 0) return;
    this.repeat.start(false);
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

  stop(): Promise<void> {
    return this.repeat.stop();
  }
}
