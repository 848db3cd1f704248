// Reads the first n records of a topic, decoded through the registry; creates fresh topics.
import { Kafka, logLevel } from 'kafkajs';
import { EnvelopeCodec, createKafka, ensureTopics, parseConfig, type DeadLetter, type Delivery, type DeliveryAttempt, type IngressRejection, type RawEvent } from '@hookyard/core';
import { infra, uniquePrefix } from './infra.ts';
import { quietLog } from './stack.ts';

/**
 * A topic of its own on the test stack (`<unique prefix of name><suffix>`), created as the
 * services create theirs, and a client made by createKafka (hookyard's producers) to use it.
 */
export async function freshTopic(name: string, suffix: string, partitions?: number): Promise<{ kafka: Kafka; topic: string; brokers: string }> {
  const a = await infra();
  const topic = `${uniquePrefix(name)}${suffix}`;
  const kafka = createKafka(a.KAFKA_BROKERS.split(','), `${name}-test`, quietLog);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, parseConfig(`${partitions ? `kafka: { partitions: ${partitions} }\n` : ''}sources: [{ name: x }]`, {}).kafka, [topic]);
  } finally {
    await admin.disconnect();
  }
  return { kafka, topic, brokers: a.KAFKA_BROKERS };
}

export async function readTopic<T extends RawEvent | Delivery | IngressRejection | DeadLetter | DeliveryAttempt>(brokers: string, registryUrl: string, topic: string, n: number, timeoutMs = 30_000): Promise<T[]> {
  const kafka = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const codec = new EnvelopeCodec(registryUrl);
  const consumer = kafka.consumer({ groupId: `${topic}-reader-${Math.random().toString(36).slice(2)}` });
  const out: T[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${n} from ${topic}`)), timeoutMs);
      void consumer.run({ eachMessage: async ({ message }) => {
        out.push(await codec.decode<T>(message.value!));
        if (out.length >= n) { clearTimeout(timer); resolve(); }
      } });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}
