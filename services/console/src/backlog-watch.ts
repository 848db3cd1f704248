// Backpressure issues: each destination's oldest pending delivery (the same figure as
// `hookyard destination status`); older than console.issues.backlogAgeSeconds, it counts
// toward the destination's backpressure issue (one occurrence per minute), and back under it
// (or nothing pending) the issue resolves by itself. Checked every 30 s, or every quarter of
// the threshold when that is shorter (a threshold of seconds is met within seconds).
import type { Config, Logger } from '@hookyard/core';
import { backlogOccurrence } from './issues.ts';
import { resolveByItself } from './recovery.ts';
import { Repeat } from './repeat.ts';
import type { IndexStore, IssueChange } from './store/driver.ts';
import type { Operations } from './web/operations.ts';

export const backlogCheckEveryMs = (thresholdSeconds: number) => Math.min(30_000, Math.max(1_000, thresholdSeconds * 250));

export class BacklogWatch {
  private readonly config: Config;
  private readonly repeat: Repeat;
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
    this.repeat = new Repeat(() => this.check(), backlogCheckEveryMs(config.console.issues.backlogAgeSeconds), log, 'backlog check failed; trying again');
  }

  start(): void {
    if (this.config.destinations.length === 0) return;
    this.repeat.start(false);
  }

  async check(now = Date.now()): Promise<IssueChange[]> {
    const threshold = this.config.console.issues.backlogAgeSeconds;
    const statuses = await this.ops.destinations();
    const occurrences = statuses.flatMap((s) => {
      const o = s.oldestPendingAgeSeconds === null ? null : backlogOccurrence(s.name, s.oldestPendingAgeSeconds, s.pending, threshold, now);
      return o ? [o] : [];
    });
    const changes = await this.store.recordIssues(occurrences);
    // The active backpressure issues (one query, not one per destination) of destinations
    // now under the threshold.
    const over = new Set(occurrences.map((o) => o.target));
    const measured = new Set(statuses.map((s) => s.name));
    const active = await this.store.issues({ states: ['open', 'acknowledged'], kinds: ['backpressure'], limit: 500 });
    for (const issue of active.items) {
      if (measured.has(issue.target) && !over.has(issue.target)) await resolveByItself(this.store, issue, now, this.log, `the oldest pending delivery is under ${threshold} s again`);
    }
    this.onIssues(changes);
    return changes;
  }

  stop(): Promise<void> {
    return this.repeat.stop();
  }
}
