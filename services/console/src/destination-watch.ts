// Breaker and pause issues: every few seconds, each destination's live state (the same the
// API shows as "held"). A breaker that opened counts toward the destination's breaker issue
// (once per opening), a destination the deliverer paused (a 410 Gone) toward its paused
// issue; when the breaker closes or the destination is resumed, the issue resolves by itself
// ("hookyard"), which alerts as a resolve. Alert channels themselves are left out (an alert
// about the alert channel would go through it).
import { ALERTS_SOURCE, type Config, type Logger, type RedisIngressHealth } from '@hookyard/core';
import { breakerOccurrence, ingressOccurrence, issueId, pausedOccurrence } from './issues.ts';
import type { LiveDestinations } from './live.ts';
import { resolveByItself } from './recovery.ts';
import { Repeat } from './repeat.ts';
import type { IndexStore, IssueChange, IssueOccurrence } from './store/driver.ts';

const EVERY_MS = 3_000;

export class DestinationWatch {
  private readonly config: Config;
  private readonly repeat: Repeat;
  private readonly store: IndexStore;
  private readonly live: LiveDestinations;
  private readonly onIssues: (c: IssueChange[]) => void;
  private readonly log: Logger;

  private readonly ingress: Pick<RedisIngressHealth, 'recent'> | undefined;

  constructor(config: Config, store: IndexStore, live: LiveDestinations, onIssues: (c: IssueChange[]) => void, log: Logger, ingress?: Pick<RedisIngressHealth, 'recent'>) {
    this.ingress = ingress;
    this.config = config;
    this.store = store;
    this.live = live;
    this.onIssues = onIssues;
    this.log = log;
    this.repeat = new Repeat(() => this.check(), EVERY_MS, log, 'destination check failed; trying again');
  }

  private destinations(): string[] {
    const alertDestinations = new Set(this.config.connections.filter((c) => c.source === ALERTS_SOURCE).map((c) => c.destination));
    return this.config.destinations.map((d) => d.name).filter((d) => !alertDestinations.has(d));
  }

  start(): void {
    this.repeat.start(false);
  }

  async check(now = Date.now()): Promise<IssueChange[]> {
    const holds = await this.live.holds();
    const occurrences: IssueOccurrence[] = [];
    const clear: string[] = [];
    for (const d of this.destinations()) {
      const h = holds.get(d);
      if (h?.breaker && h.breaker.state !== 'closed') occurrences.push(breakerOccurrence(d, h.breaker.openedAt ?? now, h.breaker.consecutiveFailures, h.breaker.probeAt));
      else clear.push(issueId('breaker', d, 'open'));
      if (h?.paused && h.paused.by === 'deliverer') occurrences.push(pausedOccurrence(d, h.paused.at, h.paused.reason));
      else clear.push(issueId('paused', d, 'deliverer'));
    }
    // Ingress's 503s, per minute, over the last two: none in both and the issue resolves.
    if (this.ingress) {
      const recent = await this.ingress.recent(2, now).catch(() => null);
      if (recent) {
        for (const r of recent) if (r.count > 0) occurrences.push(ingressOccurrence(r.minute, r.count));
        if (recent.every((r) => r.count === 0)) clear.push(issueId('ingress', 'ingress', '503'));
      }
    }
    const changes = await this.store.recordIssues(occurrences);
    for (const id of clear) {
      const issue = await this.store.issue(id);
      if (issue) await resolveByItself(this.store, issue, now, this.log, issue.kind === 'ingress' ? 'ingress answers without 503 again' : 'the destination recovered');
    }
    this.onIssues(changes);
    return changes;
  }

  stop(): Promise<void> {
    return this.repeat.stop();
  }
}
