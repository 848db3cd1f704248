// Operator state of destinations (paused, and why) in a compacted Kafka topic, keyed by
// destination: it survives restarts of every process, Redis included. Each reader
// replays the topic at start, then follows it; the CLI and the deliverer (on a 410) write.
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { KafkaConfig } from './config/options.ts';
import type { Logger } from 'pino';
import { CompactedTopicFollower } from './compacted-topic.ts';

export interface DestinationState {
  paused: boolean;
  reason: string;
  at: number;
  by: string;
}

export class DestinationStateStore {
  private readonly kafka: Kafka;
  readonly topic: string;
  private readonly states = new Map<string, DestinationState>();
  private readonly listeners = new Set<(dest: string, s: DestinationState) => void>();
  private readonly follower: CompactedTopicFollower;
  private producer: Producer | undefined;

  constructor(kafka: Kafka, cfg: KafkaConfig, topic: string) {
    this.kafka = kafka;
    this.topic = topic;
    this.follower = new CompactedTopicFollower(kafka, cfg, topic, (message) => {
      const dest = message.key?.toString();
      if (!dest || !message.value) return;
      try {
        this.apply(dest, JSON.parse(message.value.toString()) as DestinationState);
      } catch { /* not ours */ }
    });
  }

  /** Replays the topic to its current end, then keeps following it (restarted after a crash when `log` is given: long-running readers). */
  start(admin: Admin, log?: Logger): Promise<void> {
    return this.follower.start(admin, log);
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
    await Promise.allSettled([this.follower.close(), this.producer?.disconnect()]);
  }
}
