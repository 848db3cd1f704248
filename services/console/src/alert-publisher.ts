// Issue changes → the hookyard-alerts source, from the store's outbox: each change recorded
// in the transaction that made it is produced to raw-events (acks=all) as an event with the
// id fixed at that time, then marked published. A crash between the two publishes it again
// under the same id, and the deliverer's dedup sends it once. See packages/core/src/alerts.ts.
import type { Producer } from 'kafkajs';
import { ALERTS_SOURCE, Counter, eventIdTime, type AlertEvent, type Config, type EnvelopeCodec, type Logger, type RawEvent, type Registry } from '@hookyard/core';
import { Repeat } from './repeat.ts';
import type { IndexStore, IssueChangeRecord } from './store/driver.ts';

const EVERY_MS = 500;

export class AlertPublisher {
  private readonly published: Counter;
  private readonly repeat: Repeat;

  private readonly deps: { config: Config; store: IndexStore; producer: Producer; codec: EnvelopeCodec; rawTopic: string; log: Logger; metrics: Registry };

  constructor(deps: AlertPublisher['deps']) {
    this.deps = deps;
    this.repeat = new Repeat(() => this.publish(), EVERY_MS, deps.log, 'could not publish alerts yet; trying again');
    this.published = new Counter({ name: 'hookyard_alerts_published_total', help: 'Issue changes published to the alert channels\' source', labelNames: ['change'], registers: [deps.metrics] });
  }

  start(): void {
    this.repeat.start(true);
  }

  /** Publishes what is pending; resolves with how many. */
  async publish(): Promise<number> {
    const { store, config } = this.deps;
    const pending = await store.unpublishedIssueChanges(100);
    if (pending.length === 0) return 0;
    // Without channels there is nobody to tell: the changes are only marked.
    if (config.alerts.channels.length > 0) {
      const messages = [];
      for (const c of pending) {
        const event = await this.event(c);
        if (event) messages.push({ key: event.orderingKey, value: await this.deps.codec.encode(this.deps.rawTopic, 'raw-event', event), timestamp: String(event.receivedAt) });
      }
      if (messages.length > 0) await this.deps.producer.send({ topic: this.deps.rawTopic, acks: -1, messages });
    }
    await store.markIssueChangesPublished(pending.map((c) => c.seq));
    for (const c of pending) this.published.inc({ change: c.change });
    return pending.length;
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
