// kafkajs sends one produce request per send() with no linger. This coalesces concurrent
// callers into one sendBatch per flush (one in flight at a time, so the idempotent
// producer keeps its sequence order), and settles each caller with its own batch's fate.
import type { Message, Producer } from 'kafkajs';

interface Pending {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
  timer?: NodeJS.Timeout;
}

/** The message was withdrawn before it was sent: it is certainly not in Kafka. */
export class NotSentError extends Error {
  constructor() {
    super('not sent to Kafka within the deadline (withdrawn unsent)');
    this.name = 'NotSentError';
  }
}

export interface BatchingOptions {
  maxBatch: number;
  timeoutMs: number;
}

export class BatchingProducer {
  private queue: Pending[] = [];
  private inFlight = false;
  private scheduled = false;
  private readonly producer: Producer;
  private readonly opts: BatchingOptions;
  constructor(producer: Producer, opts: BatchingOptions = { maxBatch: 1000, timeoutMs: 5000 }) {
    this.producer = producer;
    this.opts = opts;
  }

  /**
   * `queueTimeoutMs`: if the message is still waiting for its batch that long (Kafka slow
   * or down), it is withdrawn and the promise rejects with NotSentError. Once sent it is
   * never abandoned: the caller learns the batch's real fate, so "failed" cannot mean
   * "written later by a retry nobody waits for".
   */
  send(topic: string, message: Message, queueTimeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const p: Pending = { topic, message, resolve, reject };
      if (queueTimeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          const i = this.queue.indexOf(p);
          if (i < 0) return;
          this.queue.splice(i, 1);
          reject(new NotSentError());
        }, queueTimeoutMs);
      }
      this.queue.push(p);
      this.schedule();
    });
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
    for (const p of batch) clearTimeout(p.timer);
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
    } finally {
      this.inFlight = false;
      this.schedule();
    }
  }
}
