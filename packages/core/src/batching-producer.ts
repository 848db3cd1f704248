// kafkajs sends one produce request per send() with no linger. This coalesces concurrent
// callers into one sendBatch per flush (one in flight at a time, so the idempotent
// producer keeps its sequence order), and settles each caller with its own batch's fate.
import type { Message, Producer } from 'kafkajs';

interface Pending {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
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

  send(topic: string, message: Message): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, message, resolve, reject });
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
