// Operator state of destinations (paused, and why) in a compacted Kafka topic, keyed by
// destination: it survives restarts of every process, Redis included. Each reader
// replays the topic at start, then follows it; the CLI and the deliverer (on a 410) write.
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { KafkaConfig } from './config/options.ts';
import type { Logger } from 'pino';
import { ensureTopics } from './kafka.ts';
import { runSupervised, type SupervisedConsumer } from './consumer-supervisor.ts';

export interface DestinationState {
  paused: boolean;
  reason: string;
  at: number;
  by: string;
}

export class DestinationStateStore {
  private readonly kafka: Kafka;
  private readonly cfg: KafkaConfig;
  readonly topic: string;
  private readonly states = new Map<string, DestinationState>();
  private readonly listeners = new Set<(dest: string, s: DestinationState) => void>();
  private consumer: Consumer | undefined;
  private supervised: SupervisedConsumer | undefined;
  private producer: Producer | undefined;

  constructor(kafka: Kafka, cfg: KafkaConfig, topic: string) {
    this.kafka = kafka;
    this.cfg = cfg;
    this.topic = topic;
  }

  /** Replays the topic to its current end, then keeps following it (restarted after a crash when `log` is given: long-running readers). */
  async start(admin: Admin, log?: Logger): Promise<void> {
    await ensureTopics(admin, { ...this.cfg, partitions: 1 }, [this.topic], [{ name: 'cleanup.policy', value: 'compact' }]);
    const end = Number((await admin.fetchTopicOffsets(this.topic))[0]?.high ?? 0);
    const consumer = this.kafka.consumer({ groupId: `${this.cfg.topicPrefix}hookyard-state-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    let caughtUp!: () => void;
    const ready = new Promise<void>((r) => { caughtUp = r; });
    if (end === 0) caughtUp();
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const run: Parameters<Consumer['run']>[0] = {
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const dest = message.key?.toString();
        if (dest && message.value) {
          try {
            this.apply(dest, JSON.parse(message.value.toString()) as DestinationState);
          } catch { /* not ours */ }
        }
        if (Number(message.offset) >= end - 1) caughtUp();
      },
    };
    if (log) this.supervised = await runSupervised(consumer, run, log, 'destination-state');
    else await consumer.run(run);
    await ready;
  }

  private apply(dest: string, s: DestinationState): void {
    this.states.set(dest, s);
    for (const l of this.listeners) l(dest, s);
  }

  get(dest: string): DestinationState | undefined {
    return this.states.get(dest);
  }

  isPaused(dest: string): boolean {
    return this.states.get(dest)?.paused ?? false;
  }

  onChange(listener: (dest: string, s: DestinationState) => void): void {
    this.listeners.add(listener);
  }

  async set(dest: string, s: DestinationState): Promise<void> {
    if (!this.producer) {
      this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await this.producer.connect();
    }
    await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key: dest, value: JSON.stringify(s) }] });
    this.apply(dest, s);
  }

  async close(): Promise<void> {
    this.supervised?.stop();
    await Promise.allSettled([this.consumer?.disconnect(), this.producer?.disconnect()]);
  }
}
