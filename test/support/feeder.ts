// Writes Delivery records straight into deliveries.<destination> topics, for tests of the
// deliverer that do not need ingress and router in front.
import { Kafka, logLevel } from 'kafkajs';
import { EnvelopeCodec, ensureTopics, topicNames, type Config, type Delivery } from '@hookyard/core';
import type { StackAddresses } from '../../scripts/infra/local-stack.ts';

export interface DeliveryFeeder {
  send(deliveries: Delivery[]): Promise<void>;
  close(): Promise<void>;
}

export function delivery(destination: string, n: number, extra: Partial<Delivery> = {}): Delivery {
  return { eventId: `e-${n}`, source: 's', destination, receivedAt: Date.now(), orderingKey: `k${n % 101}`, headers: { 'content-type': 'application/json' }, body: Buffer.from(`{"n":${n}}`), attempt: 0, replayId: null, ...extra };
}

export async function deliveryFeeder(a: StackAddresses, config: Config): Promise<DeliveryFeeder> {
  const topics = topicNames(config.kafka.topicPrefix);
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, config.destinations.map((d) => topics.delivery(d.name)));
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  return {
    async send(deliveries) {
      const byTopic = new Map<string, { key: string; value: Buffer }[]>();
      for (const d of deliveries) {
        const topic = topics.delivery(d.destination);
        const list = byTopic.get(topic) ?? [];
        list.push({ key: d.orderingKey, value: await codec.encode(topic, 'delivery', d) });
        byTopic.set(topic, list);
      }
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    },
    close: () => producer.disconnect(),
  };
}
