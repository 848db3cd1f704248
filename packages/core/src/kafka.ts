// kafkajs set-up shared by every service: client (logging through kafkajs/log.ts), topic names.
// The kafkajs patches first: kafkajs takes some of the functions they replace when it loads.
import './kafkajs/node-warnings.ts';
import './kafkajs/request.ts';
import './kafkajs/connection.ts';
import './kafkajs/encoding.ts';
import { fastDefaultPartitioner } from './kafkajs/partitioner.ts';
import { kafkajsLogCreator } from './kafkajs/log.ts';
import { Kafka, logLevel, type Admin, type ConsumerConfig, type ITopicConfig, type Producer, type ProducerConfig } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from './config/options.ts';

/** kafkajs's client, whose producers hash keys with the fast copy of its default partitioner. */
class HookyardKafka extends Kafka {
  override producer(config?: ProducerConfig): Producer {
    return super.producer({ createPartitioner: fastDefaultPartitioner, ...config });
  }
}

export function createKafka(brokers: string[], clientId: string, log: Logger): Kafka {
  return new HookyardKafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator(log),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
  });
}

export interface TopicNames {
  rawEvents: string;
  deadLetters: string;
  attempts: string;
  rejections: string;
  destinationState: string;
  delivery(destination: string): string;
  retryTier(tierMs: number): string;
}

export function topicNames(prefix: string): TopicNames {
  return {
    rawEvents: `${prefix}raw-events`,
    deadLetters: `${prefix}dead-letters`,
    attempts: `${prefix}delivery-attempts`,
    rejections: `${prefix}ingress-rejections`,
    destinationState: `${prefix}destination-state`,
    delivery: (destination) => `${prefix}deliveries.${destination}`,
    retryTier: (tierMs) => `${prefix}retry.${tierMs}ms`,
  };
}

/**
 * Consumer settings every service shares. A short fetch wait keeps shutdown quick: leaving
 * the group waits for the fetch in flight, and an idle 5 s long-poll (the default) made
 * every close take seconds.
 */
export function consumerOptions(cfg: KafkaConfig, groupId: string): ConsumerConfig {
  return {
    groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500,
    sessionTimeout: cfg.sessionTimeoutMs, heartbeatInterval: Math.floor(cfg.sessionTimeoutMs / 10),
  };
}

export function groupId(cfg: KafkaConfig, service: string): string {
  return `${cfg.topicPrefix}hookyard-${service}`;
}

/**
 * Creates missing topics and waits until every partition has a leader. Replicas starting
 * together race on creation, and a topic one of them just created may not be in another
 * broker's metadata yet (UNKNOWN_TOPIC_OR_PARTITION; kafkajs #815, #1222): those are retried
 * until a deadline; a refusal that cannot heal (a replication factor the cluster cannot
 * give, a bad config entry) is thrown at once.
 */
export async function ensureTopics(admin: Admin, cfg: KafkaConfig, topics: string[], extra: ITopicConfig['configEntries'] = [], timeoutMs = 30_000): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const absent = [...new Set(topics)].filter((t) => !existing.has(t));
  if (absent.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const now = new Set(await admin.listTopics());
      const missing = absent.filter((t) => !now.has(t));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: false,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: cfg.partitions,
            replicationFactor: cfg.replicationFactor,
            configEntries: [{ name: 'max.message.bytes', value: String(11 * 1024 * 1024) }, ...(extra ?? [])],
          })),
        }).catch((err: unknown) => {
          if (!healsByItself(err)) throw Object.assign(new Error(`could not create topics: ${reasons(err)}`, { cause: err }), { permanent: true });
          last = err;
        });
      }
      const md = await admin.fetchTopicMetadata({ topics: absent });
      if (md.topics.length === absent.length && md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
        await Promise.all(absent.map((t) => admin.fetchTopicOffsets(t)));
        return;
      }
    } catch (err) {
      if ((err as { permanent?: boolean }).permanent) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${absent.join(', ')} not ready after ${timeoutMs} ms: ${(last as Error | undefined)?.message ?? 'partitions without leaders'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function reasons(err: unknown): string {
  const e = err as { topic?: string; message?: string; errors?: unknown[] };
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.map(reasons).join('; ');
  return e.topic ? `${e.topic}: ${e.message}` : String(e.message);
}

/** Whether a createTopics failure is a race or a transient state rather than a refusal. */
function healsByItself(err: unknown): boolean {
  const e = err as { type?: string; retriable?: boolean; errors?: unknown[] };
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every(healsByItself);
  return e.type === 'TOPIC_ALREADY_EXISTS' || e.retriable === true || e.type === undefined;
}
