// Issues that resolve by themselves (by "hookyard") once what they report has ended. A
// failure stopping is not enough — a destination nobody sends to also stops failing — so a
// delivery or receipts issue needs the destination to have worked since its last failure (a
// delivery delivered, a receipt saying applied) and then a quiet period without another
// failure of its kind (console.issues.recoveryQuietSeconds): flapping stays open, and a
// failure indexed a little late still finds the issue open. A rate issue (refusals, dead
// letters) resolves once its window holds fewer than its threshold again, the rule that
// opened it. Breaker, pause, ingress (destination-watch.ts) and backpressure
// (backlog-watch.ts) are checked where their state is read. Transform issues wait for a
// person: a transform that worked for one event says little about the event that broke it.
// An ignored issue stays ignored; an acknowledged one resolves like an open one.
import type { Config, Logger } from '@hookyard/core';
import { DEAD_LETTER_WINDOW_MS, REFUSAL_WINDOW_MS } from './issues.ts';
import { Repeat } from './repeat.ts';
import type { IndexStore, IssueKind, IssueRow } from './store/driver.ts';

const EVERY_MS = 5_000;
const RECOVERABLE: IssueKind[] = ['delivery', 'receipts', 'refusal', 'dead_letters'];

export interface RecoveryRules {
  quietMs: number;
  thresholds: { refusal: { count: number; windowMs: number }; dead_letters: { count: number; windowMs: number } };
}

export const recoveryRules = (config: Config): RecoveryRules => ({
  quietMs: config.console.issues.recoveryQuietSeconds * 1000,
  thresholds: {
    refusal: { count: config.console.issues.refusalsPerMinute, windowMs: REFUSAL_WINDOW_MS },
    dead_letters: { count: config.console.issues.deadLettersPerHour, windowMs: DEAD_LETTER_WINDOW_MS },
  },
});

/** What would show that an issue has recovered: its destination worked since `since`, or fewer than `below` occurrences since `since`. */
export type RecoveryQuestion =
  | { ask: 'worked'; destination: string; what: 'delivered' | 'applied'; since: number }
  | { ask: 'fewer'; since: number; below: number };

/** The question to put to the store about `issue` at `now`; null when it cannot have recovered yet (or never does so here). */
export function recoveryQuestion(issue: IssueRow, now: number, rules: RecoveryRules): RecoveryQuestion | null {
  if (issue.state !== 'open' && issue.state !== 'acknowledged') return null;
  switch (issue.kind) {
    case 'delivery':
    case 'receipts':
      if (now - issue.lastSeen < rules.quietMs) return null;
      return { ask: 'worked', destination: issue.target, what: issue.kind === 'delivery' ? 'delivered' : 'applied', since: issue.lastSeen };
    case 'refusal':
    case 'dead_letters': {
      const t = rules.thresholds[issue.kind];
      return { ask: 'fewer', since: now - t.windowMs, below: t.count };
    }
    default:
      return null;
  }
}

/**
 * Resolves `issue` by "hookyard" unless it changed since it was read (another state, or seen
 * again): the resolve alert goes out through the outbox like any other. True when it did.
 */
export async function resolveByItself(store: Pick<IndexStore, 'setIssueState'>, issue: IssueRow, at: number, log: Logger, why: string): Promise<boolean> {
  if (issue.state !== 'open' && issue.state !== 'acknowledged') return false;
  const done = await store.setIssueState(issue.id, 'resolved', 'hookyard', at, { states: ['open', 'acknowledged'], lastSeen: issue.lastSeen });
  if (done) log.info({ issue: issue.id, kind: issue.kind, title: issue.title }, `issue resolved by itself: ${why}`);
  return done !== null;
}

export class RecoveryWatch {
  private readonly repeat: Repeat;
  private readonly config: Config;
  private readonly store: IndexStore;
  private readonly log: Logger;

  constructor(config: Config, store: IndexStore, log: Logger) {
    this.config = config;
    this.store = store;
    this.log = log;
    this.repeat = new Repeat(() => this.check(), EVERY_MS, log, 'issue recovery check failed; trying again');
  }

  start(): void {
    this.repeat.start(false);
  }

  /** One pass over the open and acknowledged issues of the kinds checked here; resolves with those resolved. */
  async check(now = Date.now()): Promise<IssueRow[]> {
    const rules = recoveryRules(this.config);
    const resolved: IssueRow[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.issues({ states: ['open', 'acknowledged'], kinds: RECOVERABLE, limit: 500, ...(cursor ? { cursor } : {}) });
      for (const issue of page.items) {
        const q = recoveryQuestion(issue, now, rules);
        if (!q) continue;
        const recovered = q.ask === 'worked'
          ? await this.store.workedSince(q.destination, q.since, q.what)
          : (await this.store.issueOccurrencesSince(issue.id, q.since)) < q.below;
        if (!recovered) continue;
        const why = q.ask === 'fewer' ? 'back under its rate' : q.what === 'delivered' ? 'the destination delivers again' : 'the destination confirms deliveries again';
        if (await resolveByItself(this.store, issue, now, this.log, why)) resolved.push(issue);
      }
      cursor = page.next ?? undefined;
    } while (cursor);
    return resolved;
  }

  stop(): Promise<void> {
    return this.repeat.stop();
  }
}
