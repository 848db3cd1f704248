// How far behind Kafka the index is, per topic: in /metrics and in every API answer, so
// "not found" can be told from "not indexed yet".
import type { Admin } from 'kafkajs';
import { Gauge, type Logger, type Registry } from '@hookyard/core';
import { Repeat } from './repeat.ts';

export interface IndexFreshness {
  /** Records in Kafka not yet in the index, per topic (null: not measured yet). */
  lag: Record<string, number> | null;
  /** Sum over topics. */
  totalLag: number | null;
  checkedAt: string | null;
}

export class Freshness {
  private value: IndexFreshness = { lag: null, totalLag: null, checkedAt: null };
  private repeat: Repeat | undefined;
  private readonly log: Logger;
  private readonly gauge: Gauge;
  private readonly admin: Admin;
  private readonly group: string;
  private readonly topics: () => string[];

  constructor(admin: Admin, group: string, topics: () => string[], metrics: Registry, log: Logger) {
    this.log = log;
    this.admin = admin;
    this.group = group;
    this.topics = topics;
    this.gauge = new Gauge({ name: 'hookyard_console_index_lag', help: 'Records in Kafka not yet in the event history, per topic', labelNames: ['topic'], registers: [metrics] });
  }

  /**
   * Every `everyMs` after the last check ended. stop() waits for a check in flight and starts
   * no other: a check scheduled after close reconnected the closed admin client, and its
   * socket kept the process alive (found as test files that never exited).
   */
  start(everyMs = 2000): void {
    this.repeat = new Repeat(() => this.refresh(), everyMs, this.log, 'index lag check failed');
    this.repeat.start(true);
  }

  async refresh(): Promise<IndexFreshness> {
    try {
      const list = this.topics();
      const committed = await this.admin.fetchOffsets({ groupId: this.group, topics: list });
      const lag: Record<string, number> = {};
      for (const t of committed) {
        const ends = await this.admin.fetchTopicOffsets(t.topic);
        let n = 0;
        for (const p of ends) {
          const c = Number(t.partitions.find((x) => x.partition === p.partition)?.offset ?? -1);
          n += Math.max(0, Number(p.high) - (c >= 0 ? c : Number(p.low)));
        }
        lag[t.topic] = n;
        this.gauge.set({ topic: t.topic }, n);
      }
      this.value = { lag, totalLag: Object.values(lag).reduce((a, b) => a + b, 0), checkedAt: new Date().toISOString() };
    } catch { /* keep the last value; checkedAt says how old it is */ }
    return this.value;
  }

  current(): IndexFreshness {
    return this.value;
  }

  async stop(): Promise<void> {
    await this.repeat?.stop();
  }
}
