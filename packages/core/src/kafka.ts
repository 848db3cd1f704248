// kafkajs set-up shared by every service: client, log bridge to pino, topic names.
import { Kafka, logLevel, type Admin, type ConsumerConfig, type ITopicConfig, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from './config/options.ts';

import './node-warnings.ts';

function pinoLogCreator(log: Logger): logCreator {
  return () => ({ level, log: entry }) => {
    const { message, ...extra } = entry;
    const target = log.child({ component: 'kafkajs' });
    if (level === logLevel.ERROR) target.error(extra, message);
    else if (level === logLevel.WARN) target.warn(extra, message);
    else if (level === logLevel.INFO) target.debug(extra, message);
  };
}

export function createKafka(brokers: string[], clientId: string, log: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(log),
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

/** Creates missing topics and waits for their leaders (KRaft auto-creation races; kafkajs #1618). */
export async function ensureTopics(admin: Admin, cfg: KafkaConfig, topics: string[], extra: ITopicConfig['configEntries'] = []): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = [...new Set(topics)].filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: cfg.partitions,
        replicationFactor: cfg.replicationFactor,
        configEntries: [{ name: 'max.message.bytes', value: String(11 * 1024 * 1024) }, ...(extra ?? [])],
      })),
    });
  } catch (err) {
    // Another replica may have created some or all of them at the same moment (replicas
    // starting together): fine if they all exist now. kafkajs reports that as an
    // aggregate, not always as TOPIC_ALREADY_EXISTS.
    const now = new Set(await admin.listTopics());
    if (missing.some((t) => !now.has(t))) throw err;
  }
  // Whoever created them, their partitions must have leaders before anyone uses them.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: missing });
      if (md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
        await Promise.all(missing.map((t) => admin.fetchTopicOffsets(t)));
        return;
      }
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${missing.join(', ')} have no leaders after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
