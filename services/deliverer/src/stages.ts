// Where a delivery's time goes, stage by stage, for per-key and unordered destinations side
// by side: the first attempt of each live event is timed from its fetch to its attempt
// record's ack. Retries and replays are left out (their waits are the schedule's, not the
// pipeline's). `hookyard_deliverer_stage_seconds{destination,ordering,stage}`.
import { performance } from 'node:perf_hooks';
import { Histogram, type Registry } from '@hookyard/core';

export const STAGES = [
  'queued', // fetched → the task starts (per-key: behind the key's earlier records)
  'decode', // the record decoded (registry)
  'admit', // pause, then one Redis script: retry hint, delivered mark, send lease, rate limit, breaker
  'slot', // waiting for one of the partition's attempt slots
  'send', // the HTTP request
  'settle', // one Redis script: breaker report and the delivered mark (per-key: the key is released after it)
  'record', // the attempt record acked by Kafka
] as const;
export type Stage = (typeof STAGES)[number];

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30];

type Child = ReturnType<Histogram<string>['labels']>;

export class StageMetrics {
  private readonly histogram: Histogram<string>;
  private readonly children = new Map<string, Child>();

  constructor(registry: Registry) {
    this.histogram = new Histogram({
      name: 'hookyard_deliverer_stage_seconds', help: 'Time of each stage of a live event\'s first delivery attempt, from fetch to attempt record',
      labelNames: ['destination', 'ordering', 'stage'], buckets: BUCKETS, registers: [registry],
    });
  }

  /** A clock started when the record was fetched (`performance.now()` then). */
  clock(destination: string, ordering: string, fetchedAt: number): StageClock {
    return new StageClock(this, destination, ordering, fetchedAt);
  }

  observe(destination: string, ordering: string, stage: Stage, seconds: number): void {
    const id = `${destination}\u0000${stage}`;
    let c = this.children.get(id);
    if (!c) {
      c = this.histogram.labels({ destination, ordering, stage });
      this.children.set(id, c);
    }
    c.observe(seconds);
  }
}

export class StageClock {
  private last: number;
  private readonly m: StageMetrics;
  private readonly destination: string;
  private readonly ordering: string;
  constructor(m: StageMetrics, destination: string, ordering: string, start: number) {
    this.m = m;
    this.destination = destination;
    this.ordering = ordering;
    this.last = start;
  }

  /** The time from the previous lap (or the fetch) to `at` was spent in `stage`. */
  lapTo(stage: Stage, at: number): void {
    this.m.observe(this.destination, this.ordering, stage, Math.max(0, at - this.last) / 1000);
    this.last = at;
  }

  /** The time since the previous lap (or the fetch) was spent in `stage`. */
  lap(stage: Stage): void {
    const now = performance.now();
    this.m.observe(this.destination, this.ordering, stage, Math.max(0, now - this.last) / 1000);
    this.last = now;
  }
}
