// The Kafka side of ingress: capture an event durably (acks=all, coalesced batches) and
// record refusals. Ingress's HTTP layer only sees the EventCapture interface.
import type { Producer } from 'kafkajs';
import { BatchingProducer, HookyardError, NotSentError, type EnvelopeCodec, type Histogram, type IngressRejection, type RawEvent } from '@hookyard/core';

export interface EventCapture {
  capture(event: RawEvent): Promise<void>;
  reject(rejection: IngressRejection): Promise<void>;
  ready(): Promise<boolean>;
}

export interface KafkaCaptureOptions {
  producer: Producer;
  codec: EnvelopeCodec;
  rawTopic: string;
  rejectionsTopic: string;
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
    this.batcher = new BatchingProducer(o.producer, { maxBatch: 1000, timeoutMs: o.timeoutMs });
    this.batcher.onBatch = (size, ms, ok) => {
      o.metrics.batchSize.observe(size);
      o.metrics.produceSeconds.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000);
    };
    o.producer.on(o.producer.events.CONNECT, () => { this.connected = true; });
    o.producer.on(o.producer.events.DISCONNECT, () => { this.connected = false; });
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
      if (err instanceof NotSentError) throw new HookyardError('CAPTURE_UNAVAILABLE', 'Kafka did not acknowledge in time');
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
