// kafkajs sends one produce request per send() with no linger. This coalesces concurrent
// callers into one sendBatch per flush (one in flight at a time, so the idempotent
// producer keeps its sequence order), and settles each caller with its own batch's fate.
import type { Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';

interface Pending {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** When it is withdrawn if still queued (Date.now() ms); Infinity for never. */
  deadline: number;
}

/** The message was withdrawn before it was sent: it is certainly not in Kafka. */
export class NotSentError extends Error {
  constructor(message = 'not sent to Kafka within the deadline (withdrawn unsent)') {
    super(message);
    this.name = 'NotSentError';
  }
}

export interface BatchingOptions {
  maxBatch: number;
  timeoutMs: number;
  /**
   * Builds a fresh (unconnected) producer. When set, a failed batch retires the producer
   * that sent it, and the next batch goes out on a new one (a new producer id). Why: a
   * failed batch may still have been written (acks=all timed out waiting for a replica
   * that then left the ISR), and kafkajs re-uses its sequence numbers for the next batch.
   * The broker takes that batch for a retry of the written one, answers success and
   * drops it: an acknowledged event that is not in Kafka. A new producer id cannot collide.
   */
  renew?: () => Producer;
}

export class BatchingProducer {
  private queue: Pending[] = [];
  private inFlight = false;
  private scheduled = false;
  private producer: Producer;
  private readonly opts: BatchingOptions;
  constructor(producer: Producer, opts: BatchingOptions = { maxBatch: 1000, timeoutMs: 5000 }) {
    this.producer = producer;
    this.opts = opts;
  }

  /** The producer in use (it changes when renewed): close this one. */
  get current(): Producer {
    return this.producer;
  }

  /** Called with the new producer after a renewal (to re-attach event listeners). */
  onRenew?: (producer: Producer) => void;

  private stale = false;
  /** Producers replaced so far (each after a failed batch). */
  renewals = 0;

  /** Swaps in a fresh producer; false when it cannot connect (the stale one is kept, unused). */
  private async renew(): Promise<boolean> {
    const fresh = this.opts.renew!();
    try {
      await fresh.connect();
    } catch {
      void fresh.disconnect().catch(() => {});
      return false;
    }
    const old = this.producer;
    this.producer = fresh;
    this.stale = false;
    this.renewals++;
    this.onRenew?.(fresh);
    void old.disconnect().catch(() => {});
    return true;
  }

  send(topic: string, message: Message, queueTimeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const p: Pending = { topic, message, resolve, reject, deadline: queueTimeoutMs === undefined ? Infinity : Date.now() + queueTimeoutMs };
      this.queue.push(p);
      if (p.deadline < this.sweepAt) this.armSweep(p.deadline);
      this.schedule();
    });
  }

  // One timer for every queued deadline, not one per message: at thousands of messages a
  // second, arming and clearing a timer each was about 1 µs of a ~60 µs request. Invariant:
  // sweepAt is at or before the earliest deadline in the queue.
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Infinity;

  private armSweep(at: number): void {
    clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    // Unref'd: a timer left for messages already sent must not hold a closing process open.
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now())).unref();
  }

  /** Withdraws what is still queued at its deadline: certainly not sent. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    const kept: Pending[] = [];
    for (const p of this.queue) {
      if (p.deadline <= now) p.reject(new NotSentError());
      else {
        kept.push(p);
        if (p.deadline < next) next = p.deadline;
      }
    }
    this.queue = kept;
    if (next < Infinity) this.armSweep(next);
  }

  get pending(): number {
    return this.queue.length;
  }

  onBatch?: (size: number, ms: number, ok: boolean) => void;

  private schedule(): void {
    if (this.inFlight || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // setImmediate gathers every request that arrived in this turn of the event loop.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    if (this.queue.length === 0 && this.sweepTimer) {
      clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
      this.sweepAt = Infinity;
    }
    if (this.stale && !(await this.renew())) {
      // Certainly not written: nothing was sent.
      const err = new NotSentError('not sent: Kafka unreachable (producer could not be renewed)');
      for (const p of batch) p.reject(err);
      this.inFlight = false;
      this.schedule();
      return;
    }
    const byTopic = new Map<string, Message[]>();
    for (const p of batch) {
      let list = byTopic.get(p.topic);
      if (!list) byTopic.set(p.topic, (list = []));
      list.push(p.message);
    }
    const t0 = performance.now();
    try {
      await this.producer.sendBatch({
        acks: -1,
        timeout: this.opts.timeoutMs,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      this.onBatch?.(batch.length, performance.now() - t0, true);
      for (const p of batch) p.resolve();
    } catch (err) {
      this.onBatch?.(batch.length, performance.now() - t0, false);
      for (const p of batch) p.reject(err);
      if (this.opts.renew) this.stale = true;
    } finally {
      this.inFlight = false;
      this.schedule();
    }
  }
}

/** onRenew for a service: a failover renews per failed batch, so this logs at most every 10 s, with the count. */
export function logRenewals(log: Logger, renewals: () => number): () => void {
  let logged = 0;
  return () => {
    if (Date.now() - logged < 10_000) return;
    logged = Date.now();
    log.warn({ renewals: renewals() }, 'producer renewed after a failed batch (its sequence numbers could collide with a batch Kafka wrote after all)');
  };
}
