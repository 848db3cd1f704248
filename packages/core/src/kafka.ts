// kafkajs set-up shared by every service: client (logging through kafkajs/log.ts), topic names.
// The kafkajs patches first: kafkajs takes some of the functions they replace when it loads.
import './kafkajs/node-warnings.ts';
import './kafkajs/request.ts';
import './kafkajs/connection.ts';
import './kafkajs/encoding.ts';
import './kafkajs/send-messages.ts';
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
  decisions: string;
  /** Receipts: destinations saying a delivery was applied (or not). */
  receipts: string;
  configVersions: string;
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
    decisions: `${prefix}routing-decisions`,
    receipts: `${prefix}receipts`,
    configVersions: `${prefix}config-versions`,
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
  const settings = durabilitySettings(cfg);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (absent.length > 0) {
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
            configEntries: [
              { name: 'max.message.bytes', value: String(11 * 1024 * 1024) },
              ...settings.filter((x): x is { name: string; value: string } => x.value !== null),
              ...(extra ?? []),
            ],
          })),
        }).catch((err: unknown) => {
          if (!healsByItself(err)) throw Object.assign(new Error(`could not create topics: ${reasons(err)}`, { cause: err }), { permanent: true });
          last = err;
        });
      }
      const md = await admin.fetchTopicMetadata({ topics: absent });
      if (md.topics.length === absent.length && md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
        await Promise.all(absent.map((t) => admin.fetchTopicOffsets(t)));
        break;
      }
    } catch (err) {
      if ((err as { permanent?: boolean }).permanent) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${absent.join(', ')} not ready after ${timeoutMs} ms: ${(last as Error | undefined)?.message ?? 'partitions without leaders'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // A topic just created (here or by another service) may not be known yet to the broker
  // the describe goes to: UNKNOWN_TOPIC_OR_PARTITION for a moment on a cluster of several.
  for (;;) {
    try {
      await alignTopicConfigs(admin, [...new Set(topics)], settings);
      return;
    } catch (err) {
      if (!healsByItself(err) || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const TOPIC_RESOURCE = 2; // kafkajs ConfigResourceTypes.TOPIC
const BROKER_RESOURCE = 4; // kafkajs ConfigResourceTypes.BROKER
const TOPIC_OVERRIDE = 1; // kafkajs ConfigSource.TOPIC_CONFIG

/**
 * The topic settings `durability` asks for (value null: no override, the broker's default).
 * fsync: flush.messages=1, so a broker acknowledges a record only once it is on disk.
 */
export function durabilitySettings(cfg: KafkaConfig): { name: string; value: string | null }[] {
  return [
    { name: 'flush.messages', value: cfg.durability === 'fsync' ? '1' : null },
    { name: 'min.insync.replicas', value: String(cfg.minInsyncReplicas) },
  ];
}

/**
 * Topics that exist already (created earlier, by another version, or in another mode) get
 * the settings too. kafkajs has only the non-incremental AlterConfigs, which replaces a
 * topic's whole set of overrides: the current ones are read and written back with the
 * change, so others (cleanup.policy, retention…) are kept.
 */
async function alignTopicConfigs(admin: Admin, topics: string[], settings: { name: string; value: string | null }[]): Promise<void> {
  if (topics.length === 0) return;
  const described = await admin.describeConfigs({ resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name })), includeSynonyms: false });
  const changes = [];
  for (const r of described.resources) {
    if (r.errorCode !== 0) continue;
    const overrides = new Map(r.configEntries.filter((e) => e.configSource === TOPIC_OVERRIDE && !e.isSensitive).map((e) => [e.configName, e.configValue]));
    let changed = false;
    for (const { name, value } of settings) {
      if (value === null ? overrides.has(name) : overrides.get(name) !== value) {
        changed = true;
        if (value === null) overrides.delete(name);
        else overrides.set(name, value);
      }
    }
    if (changed) changes.push({ type: TOPIC_RESOURCE, name: r.resourceName, configEntries: [...overrides].map(([name, value]) => ({ name, value })) });
  }
  if (changes.length > 0) await admin.alterConfigs({ validateOnly: false, resources: changes });
}

/**
 * fsync asks every broker to flush Kafka's own state too (consumer offsets, transaction
 * state), which hookyard cannot set per topic on a cluster it does not run: a warning when
 * the brokers do not (log.flush.interval.messages=1), null when they do or it does not matter.
 */
/** Logs internalDurabilityWarning's finding, if any, without holding up the start. */
export function warnIfInternalStateUnflushed(admin: Admin, cfg: KafkaConfig, log: Logger): void {
  internalDurabilityWarning(admin, cfg).then((w) => { if (w) log.warn(w); }, () => { /* best effort */ });
}

export async function internalDurabilityWarning(admin: Admin, cfg: KafkaConfig): Promise<string | null> {
  if (cfg.durability !== 'fsync') return null;
  const internal = ['__consumer_offsets', '__transaction_state'];
  const present = new Set(await admin.listTopics());
  const { brokers } = await admin.describeCluster();
  const resources = [
    ...internal.filter((t) => present.has(t)).map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['flush.messages'] })),
    ...brokers.map((b) => ({ type: BROKER_RESOURCE, name: String(b.nodeId), configNames: ['log.flush.interval.messages'] })),
  ];
  const described = await admin.describeConfigs({ resources, includeSynonyms: false });
  const loose = described.resources.filter((r) => r.errorCode === 0 && r.configEntries.some((e) => e.configValue !== '1'))
    .map((r) => (r.resourceType === BROKER_RESOURCE ? `broker ${r.resourceName}` : r.resourceName));
  if (loose.length === 0) return null;
  return `durability is fsync, but Kafka's own consumer offsets and transaction state are not flushed per message (${loose.join(', ')}): set log.flush.interval.messages=1 on every broker (hookyard's own stacks do)`;
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
