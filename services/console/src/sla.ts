// Receipts' SLA: a delivery to a destination with `receipts` that was delivered more than
// `slaSeconds` ago without a receipt is "applied unknown". Checked every few seconds; the
// store marks each delivery once (an insert that ignores what is already there), so the
// count in /metrics is one per delivery however many consoles or sweeps see it.
import { Counter, type Config, type Logger, type Registry } from '@hookyard/core';
import { Repeat } from './repeat.ts';
import type { IndexStore, IssueChange } from './store/driver.ts';
import { receiptOccurrence } from './issues.ts';

const EVERY_MS = 5_000;
/** After the first sweep, deliveries this much older than the SLA are looked at again (ones indexed late). */
const LATE_INDEXING_MS = 3_600_000;

export class SlaWatch {
  private first = true;
  private readonly repeat: Repeat;
  private readonly missed: Counter;
  private readonly destinations: { name: string; slaMs: number }[];
  /** Issues the misses opened or reopened. */
  onIssues: (changes: IssueChange[]) => void = () => {};

  private readonly store: IndexStore;
  private readonly log: Logger;
  private readonly retentionMs: number;
  private readonly now: () => number;

  constructor(config: Config, store: IndexStore, log: Logger, metrics: Registry, retentionMs: number, now: () => number = Date.now) {
    this.store = store;
    this.log = log;
    this.retentionMs = retentionMs;
    this.now = now;
    this.repeat = new Repeat(() => this.sweep(), EVERY_MS, log, 'receipt SLA check failed; trying again');
    this.destinations = config.destinations.flatMap((d) => (d.receipts ? [{ name: d.name, slaMs: d.receipts.slaSeconds * 1000 }] : []));
    this.missed = new Counter({ name: 'hookyard_receipts_sla_missed_total', help: 'Deliveries with no receipt within their destination\'s SLA (applied unknown), once each', labelNames: ['destination'], registers: [metrics] });
    for (const d of this.destinations) this.missed.inc({ destination: d.name }, 0);
  }

  start(): void {
    if (this.destinations.length === 0) return;
    this.repeat.start(true);
  }

  /** One pass over every destination with receipts; resolves with the deliveries newly marked. */
  async sweep(): Promise<{ eventId: string; destination: string }[]> {
    const now = this.now();
    const out: { eventId: string; destination: string }[] = [];
    for (const d of this.destinations) {
      const before = now - d.slaMs;
      const since = this.first ? now - this.retentionMs : before - LATE_INDEXING_MS;
      const marked = await this.store.markSlaMisses(d.name, since, before, now);
      if (marked.length > 0) {
        this.missed.inc({ destination: d.name }, marked.length);
        this.log.info({ destination: d.name, deliveries: marked.length, slaSeconds: d.slaMs / 1000 }, 'deliveries without a receipt within their SLA (applied unknown)');
        this.onIssues(await this.store.recordIssues(marked.map((m) => receiptOccurrence(d.name, m.eventId, now, d.slaMs / 1000))));
      }
      out.push(...marked);
    }
    this.first = false;
    return out;
  }

  stop(): Promise<void> {
    return this.repeat.stop();
  }
}
