// What every command needs, built once from config and environment: Kafka (client, admin,
// producer), the envelope codec, the dedup store, and where output goes. Connections are
// opened on first use, so `--help` and input errors never touch the network.
import type { Admin, Kafka, Producer } from 'kafkajs';
import {
  createKafka, createLogger, EnvelopeCodec, RedisDedupStore, RedisProtectionStore, topicNames, type Config, type DedupStore, type Logger, type RuntimeEnv, type TopicNames,
} from '@hookyard/core';

export interface Output {
  /** One line of the command's result (stdout). */
  line(text: string): void;
  /** One line of commentary: what is happening, warnings (stderr). */
  note(text: string): void;
}

export interface CliContext {
  config: Config;
  topics: TopicNames;
  kafka: Kafka;
  codec: EnvelopeCodec;
  log: Logger;
  out: Output;
  admin(): Promise<Admin>;
  producer(): Promise<Producer>;
  dedup(): DedupStore;
  protection(): RedisProtectionStore;
  close(): Promise<void>;
}

export const stdio: Output = {
  line: (t) => process.stdout.write(`${t}\n`),
  note: (t) => process.stderr.write(`${t}\n`),
};

export function createContext(config: Config, env: RuntimeEnv, out: Output = stdio): CliContext {
  const log = createLogger('hookyard', process.env.LOG_LEVEL ?? 'error', 2);
  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-cli`, log);
  let admin: Promise<Admin> | undefined;
  let producer: Promise<Producer> | undefined;
  let dedup: DedupStore | undefined;
  let protection: RedisProtectionStore | undefined;
  return {
    config, kafka, log, out,
    topics: topicNames(config.kafka.topicPrefix),
    codec: new EnvelopeCodec(env.registryUrl),
    admin: () => (admin ??= (async () => { const a = kafka.admin(); await a.connect(); return a; })()),
    producer: () => (producer ??= (async () => {
      const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      return p;
    })()),
    dedup: () => (dedup ??= new RedisDedupStore(env.redisUrl, config.kafka.topicPrefix)),
    protection: () => (protection ??= new RedisProtectionStore(env.redisUrl, config.kafka.topicPrefix)),
    async close() {
      await Promise.allSettled([
        admin?.then((a) => a.disconnect()),
        producer?.then((p) => p.disconnect()),
        dedup?.close(),
        protection?.close(),
      ]);
    },
  };
}
