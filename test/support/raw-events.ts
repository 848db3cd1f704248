// Writes RawEvent records into raw-events as ingress does (record timestamp = receive
// time), so replayer tests can place events at exact times.
import { Kafka, logLevel } from 'kafkajs';
import { EnvelopeCodec, ensureTopics, eventId, topicNames, type Config, type RawEvent } from '@hookyard/core';
import type { StackAddresses } from '../../scripts/infra/local-stack.ts';

export function rawEvent(source: string, receivedAt: number, body: unknown, extra: Partial<RawEvent> = {}): RawEvent {
  const id = eventId(receivedAt);
  return {
    id, source, receivedAt, method: 'POST', path: `/webhooks/${source}`, query: '', headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)), orderingKey: id, replayId: null, ...extra,
  };
}

export async function writeRawEvents(a: StackAddresses, config: Config, events: RawEvent[]): Promise<void> {
  const topic = topicNames(config.kafka.topicPrefix).rawEvents;
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, [topic]);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  const messages = await Promise.all(events.map(async (e) => ({ key: e.orderingKey, value: await codec.encode(topic, 'raw-event', e), timestamp: String(e.receivedAt) })));
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
}

/** Sum of the end offsets of a topic (what a produce would move). */
export async function endOffsets(a: StackAddresses, topic: string): Promise<number> {
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}
