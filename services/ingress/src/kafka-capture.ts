// The Kafka side of ingress: capture an event durably (acks=all, coalesced batches) and
// record refusals. Ingress's HTTP layer only sees the EventCapture interface.
import type { Producer } from 'kafkajs';
import { BatchingProducer, HookyardError, NotSentError, logRenewals, type Logger, type EnvelopeCodec, type Histogram, type IngressRejection, type RawEvent, type Receipt } from '@hookyard/core';

export interface EventCapture {
  capture(event: RawEvent): Promise<void>;
  reject(rejection: IngressRejection): Promise<void>;
  ready(): Promise<boolean>;
}

export interface KafkaCaptureOptions {
  producer: Producer;
  /** A fresh producer for when the current one's idempotence state breaks (see BatchingProducer). */
  newProducer?: () => Producer;
  log?: Logger;
  codec: EnvelopeCodec;
  rawTopic: string;
  rejectionsTopic: string;
  receiptsTopic: string;
  timeoutMs: number;
  readyCheck: () => Promise<boolean>;
  metrics: { batchSize: Histogram; produceSeconds: Histogram };
}

export class KafkaCapture implements EventCapture {
  private connected = false;
  private readonly batcher: BatchingProducer;
  private readonly o: KafkaCaptureOptions;

  constructor(o: KafkaCaptureOptions) {
    this.o = o;
    this.batcher = new BatchingProducer(o.producer, { maxBatch: 1000, timeoutMs: o.timeoutMs, ...(o.newProducer ? { renew: o.newProducer } : {}) });
    const logged = o.log ? logRenewals(o.log, () => this.batcher.renewals) : () => {};
    this.batcher.onRenew = (p) => {
      this.attach(p);
      this.connected = true; // renew() connected it before handing it over
      logged();
    };
    this.batcher.onBatch = (size, ms, ok) => {
      o.metrics.batchSize.observe(size);
      o.metrics.produceSeconds.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000);
    };
    this.attach(o.producer);
  }

  /** The producer in use (replaced after a fatal idempotence error): the one to close. */
  get producer(): Producer {
    return this.batcher.current;
  }

  private attach(p: Producer): void {
    // A replaced producer's late DISCONNECT must not mark its successor disconnected.
    p.on(p.events.CONNECT, () => { if (p === this.batcher.current) this.connected = true; });
    p.on(p.events.DISCONNECT, () => { if (p === this.batcher.current) this.connected = false; });
  }

  async capture(event: RawEvent): Promise<void> {
    if (!this.connected) throw new HookyardError('CAPTURE_UNAVAILABLE', 'Kafka is not connected');
    const value = await this.o.codec.encode(this.o.rawTopic, 'raw-event', event);
    // A request whose message could not even be sent in time answers 503 and the message is
    // withdrawn; one that was sent waits for Kafka's answer (bounded by the producer's own
    // request timeout and retries), so a 503 never hides a write that lands later.
    try {
      await this.batcher.send(this.o.rawTopic, { key: event.orderingKey, value, timestamp: String(event.receivedAt) }, this.o.timeoutMs);
    } catch (err) {
      if (err instanceof NotSentError) throw new HookyardError('CAPTURE_UNAVAILABLE', 'Kafka is unreachable or too slow; not captured');
      throw err instanceof HookyardError ? err : new HookyardError('CAPTURE_UNAVAILABLE', undefined, { cause: err });
    }
  }

  /** A receipt, acked by every in-sync replica (the same durability as an event). */
  async receipt(r: Receipt): Promise<void> {
    if (!this.connected) throw new HookyardError('CAPTURE_UNAVAILABLE', 'Kafka is not connected');
    const value = await this.o.codec.encode(this.o.receiptsTopic, 'receipt', r);
    try {
      await this.batcher.send(this.o.receiptsTopic, { key: `${r.eventId}.${r.destination}`, value, timestamp: String(r.receivedAt) }, this.o.timeoutMs);
    } catch (err) {
      if (err instanceof NotSentError) throw new HookyardError('CAPTURE_UNAVAILABLE', 'Kafka is unreachable or too slow; not captured');
      throw err instanceof HookyardError ? err : new HookyardError('CAPTURE_UNAVAILABLE', undefined, { cause: err });
    }
  }

  async reject(r: IngressRejection): Promise<void> {
    if (!this.connected) return;
    const value = await this.o.codec.encode(this.o.rejectionsTopic, 'ingress-rejection', r);
    await this.batcher.send(this.o.rejectionsTopic, { key: r.source, value, timestamp: String(r.receivedAt) }, this.o.timeoutMs);
  }

  ready(): Promise<boolean> {
    return this.connected ? this.o.readyCheck() : Promise.resolve(false);
  }
}
