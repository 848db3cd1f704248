// Reads the first n records of a topic, decoded through the registry.
import { Kafka, logLevel } from 'kafkajs';
import { EnvelopeCodec, type DeadLetter, type Delivery, type DeliveryAttempt, type IngressRejection, type RawEvent } from '@hookyard/core';

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
