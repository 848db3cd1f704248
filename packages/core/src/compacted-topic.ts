// A one-partition compacted topic read by every process: replayed to its end at start,
// then followed. Operator state (destination pauses) and config versions live this way, so
// they survive restarts of every process, Redis included. Each reader has a group of its own
// (kafkajs has no assign()) that never commits: it always starts from the beginning.
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from './config/options.ts';
import { ensureTopics } from './kafka.ts';
import { runSupervised, type SupervisedConsumer } from './consumer-supervisor.ts';

export async function ensureCompactedTopic(admin: Admin, cfg: KafkaConfig, topic: string): Promise<void> {
  await ensureTopics(admin, { ...cfg, partitions: 1 }, [topic], [{ name: 'cleanup.policy', value: 'compact' }]);
}

export class CompactedTopicFollower {
  private consumer: Consumer | undefined;
  private supervised: SupervisedConsumer | undefined;

  private readonly kafka: Kafka;
  private readonly cfg: KafkaConfig;
  readonly topic: string;
  private readonly onRecord: (message: KafkaMessage) => void | Promise<void>;

  /** `onRecord` is called in offset order; may be async (the next record waits for it). */
  constructor(kafka: Kafka, cfg: KafkaConfig, topic: string, onRecord: (message: KafkaMessage) => void | Promise<void>) {
    this.kafka = kafka;
    this.cfg = cfg;
    this.topic = topic;
    this.onRecord = onRecord;
  }

  /**
   * Resolves once every record up to the topic's end at call time was handed to onRecord.
   * With `log`, a crashed consumer is restarted (long-running readers); without, one-shot readers.
   */
  async start(admin: Admin, log?: Logger): Promise<void> {
    await ensureCompactedTopic(admin, this.cfg, this.topic);
    const end = Number((await admin.fetchTopicOffsets(this.topic))[0]?.high ?? 0);
    const consumer = this.kafka.consumer({ groupId: `${this.cfg.topicPrefix}hookyard-follow-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    let caughtUp!: () => void;
    const ready = new Promise<void>((r) => { caughtUp = r; });
    if (end === 0) caughtUp();
    // The end may be a transaction marker (versions are written in transactions), which
    // eachMessage never sees; the batch event does. Only a fetch that returned records
    // counts: an empty one reports the high watermark as its last offset even while a just
    // committed transaction is not yet readable (its marker not yet written).
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic === this.topic && payload.firstOffset !== null && Number(payload.lastOffset) >= end - 1) caughtUp();
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const run: Parameters<Consumer['run']>[0] = {
      autoCommit: false,
      eachMessage: async ({ message }) => {
        try {
          await this.onRecord(message);
        } catch (err) {
          log?.error({ topic: this.topic, offset: message.offset, err: (err as Error).message }, 'record not applied');
        }
        if (Number(message.offset) >= end - 1) caughtUp();
      },
    };
    if (log) this.supervised = await runSupervised(consumer, run, log, this.topic);
    else await consumer.run(run);
    await ready;
  }

  async close(): Promise<void> {
    this.supervised?.stop();
    await this.consumer?.disconnect().catch(() => {});
  }
}
