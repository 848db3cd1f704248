// Issue changes → the hookyard-alerts source, from the store's outbox: each change recorded
// in the transaction that made it is produced to raw-events (acks=all) as an event with the
// id fixed at that time, then marked published. A crash between the two publishes it again
// under the same id, and the deliverer's dedup sends it once. See packages/core/src/alerts.ts.
// A flapping issue pages at most once per alerts.reopenIntervalSeconds: see planAlerts.
import type { Producer } from 'kafkajs';
import { ALERTS_SOURCE, Counter, eventIdTime, type AlertEvent, type Config, type EnvelopeCodec, type Logger, type RawEvent, type Registry } from '@hookyard/core';
import { Repeat } from './repeat.ts';
import type { IndexStore, IssueChangeRecord } from './store/driver.ts';

const EVERY_MS = 500;
/** Held reopens stay in the outbox; a page this large keeps them from hiding newer changes. */
const PAGE = 500;

/** What to do now with pending issue changes: send these, withdraw these unsent; the rest wait. */
export interface AlertPlan { send: IssueChangeRecord[]; withdraw: IssueChangeRecord[] }

/**
 * Flapping: an issue that reopens soon after it resolved would page on every cycle. A reopen
 * goes out only `intervalMs` after the issue's previous opened or reopened alert; until then
 * it waits (and every later change of that issue behind it, so a trigger never follows its
 * own resolve), and if the issue resolves again meanwhile, that reopen and resolve are
 * withdrawn together: whoever was paged last saw it resolved, and it is resolved. An issue
 * still open when the interval ends gets its reopen then. Changes of one issue keep their order.
 */
export function planAlerts(pending: readonly IssueChangeRecord[], now: number, intervalMs: number): AlertPlan {
  const plan: AlertPlan = { send: [], withdraw: [] };
  const byIssue = new Map<string, IssueChangeRecord[]>();
  for (const c of pending) {
    const list = byIssue.get(c.issueId);
    if (list) list.push(c);
    else byIssue.set(c.issueId, [c]);
  }
  for (const changes of byIssue.values()) {
    let lastAlert = changes[0]!.lastAlertAt;
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!;
      if (c.change === 'reopened' && lastAlert !== null && now - lastAlert < intervalMs) {
        const next = changes[i + 1];
        if (next?.change !== 'resolved') break;
        plan.withdraw.push(c, next);
        i++;
        continue;
      }
      plan.send.push(c);
      if (c.change !== 'resolved') lastAlert = now;
    }
  }
  plan.send.sort((a, b) => a.seq - b.seq);
  return plan;
}

export class AlertPublisher {
  private readonly published: Counter;
  private readonly withdrawn: Counter;
  private readonly repeat: Repeat;

  private readonly deps: { config: Config; store: IndexStore; producer: Producer; codec: EnvelopeCodec; rawTopic: string; log: Logger; metrics: Registry };

  constructor(deps: AlertPublisher['deps']) {
    this.deps = deps;
    this.repeat = new Repeat(() => this.publish(), EVERY_MS, deps.log, 'could not publish alerts yet; trying again');
    this.published = new Counter({ name: 'hookyard_alerts_published_total', help: 'Issue changes published to the alert channels\' source', labelNames: ['change'], registers: [deps.metrics] });
    this.withdrawn = new Counter({ name: 'hookyard_alerts_withdrawn_total', help: 'Reopen and resolve alerts of a flapping issue withdrawn unsent (alerts.reopenIntervalSeconds)', registers: [deps.metrics] });
  }

  start(): void {
    this.repeat.start(true);
  }

  /** Publishes what is due (see planAlerts); resolves with how many changes it sent or withdrew. */
  async publish(now = Date.now()): Promise<number> {
    const { store, config, log } = this.deps;
    const pending = await store.unpublishedIssueChanges(PAGE);
    if (pending.length === 0) return 0;
    const { send, withdraw } = planAlerts(pending, now, config.alerts.reopenIntervalSeconds * 1000);
    // Without channels there is nobody to tell: the changes are only marked.
    if (config.alerts.channels.length > 0 && send.length > 0) {
      const messages = [];
      for (const c of send) {
        const event = await this.event(c);
        if (event) messages.push({ key: event.orderingKey, value: await this.deps.codec.encode(this.deps.rawTopic, 'raw-event', event), timestamp: String(event.receivedAt) });
      }
      if (messages.length > 0) await this.deps.producer.send({ topic: this.deps.rawTopic, acks: -1, messages });
    }
    if (send.length > 0) await store.markIssueChangesPublished(send.map((c) => c.seq), now);
    if (withdraw.length > 0) {
      await store.markIssueChangesPublished(withdraw.map((c) => c.seq), null);
      this.withdrawn.inc(withdraw.length);
      log.info({ issues: [...new Set(withdraw.map((c) => c.issueId))] }, 'flapping issue reopened and resolved within alerts.reopenIntervalSeconds: neither alerted');
    }
    for (const c of send) this.published.inc({ change: c.change });
    return send.length + withdraw.length;
  }

  private async event(c: IssueChangeRecord): Promise<RawEvent | null> {
    const issue = await this.deps.store.issue(c.issueId);
    if (!issue) return null;
    const iso = (ms: number) => new Date(ms).toISOString();
    const base = this.deps.config.alerts.consoleUrl?.replace(/\/+$/, '');
    const body: AlertEvent = {
      id: c.eventId, type: `issue.${c.change}`, at: iso(c.at),
      issue: { id: issue.id, kind: issue.kind, target: issue.target, title: issue.title, state: c.change === 'resolved' ? 'resolved' : 'open', count: issue.count, events: issue.events, firstSeen: iso(issue.firstSeen), lastSeen: iso(issue.lastSeen), sample: issue.sample, url: base ? `${base}/issues/${issue.id}` : null },
    };
    return {
      id: c.eventId, source: ALERTS_SOURCE, receivedAt: eventIdTime(c.eventId) ?? c.at, method: 'POST', path: '/internal/alerts', query: '',
      headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)), orderingKey: issue.id, replayId: null,
    };
  }

  stop(): Promise<void> {
    return this.repeat.stop();
  }
}
