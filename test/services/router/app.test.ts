// The router against real Kafka: filters, transforms with header changes, transform errors
// and timeouts to dead-letters, and a poison record that does not stop its partition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { EnvelopeCodec, ensureTopics, topicNames, type DeadLetter, type Delivery, type RawEvent } from '@hookyard/core';
import { buildRouter } from '../../../services/router/src/app.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { quietLog, runtimeFor, testConfig } from '../../support/stack.ts';
import { readTopic } from '../../support/topics.ts';

test('filters, transforms, dead letters and a poison record on one partition', { timeout: 120_000 }, async () => {
  const a = await infra();
  const prefix = uniquePrefix('router');
  const config = testConfig({
    kafka: { topicPrefix: prefix, partitions: 1 },
    router: { transformTimeoutMs: 50 },
    sources: [{ name: 'shop' }],
    destinations: [{ name: 'all', url: 'http://x/' }, { name: 'paid', url: 'http://x/' }, { name: 'shaped', url: 'http://x/' }],
    connections: [
      { source: 'shop', destination: 'all' },
      { source: 'shop', destination: 'paid', filter: { body: { type: { $startsWith: 'order.paid' } } } },
      {
        source: 'shop', destination: 'shaped',
        // n = 2 throws, n = 3 recurses until the time limit; others reshape body and headers.
        transform: `body.n = 2 ? $error("bad order") : body.n = 3 ? ($f := function($x) { $f($x + 1) }; $f(0)) : { "body": { "order": body.n, "src": source, "id": eventId }, "headers": { "x-order-type": body.type } }`,
      },
    ],
  });
  const topics = topicNames(prefix);
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, [topics.rawEvents]);
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  const producer = kafka.producer();
  await producer.connect();
  const event = (n: number, type: string): RawEvent => ({
    id: `evt-${n}`, source: 'shop', receivedAt: Date.now(), method: 'POST', path: '/webhooks/shop', query: '',
    headers: { 'content-type': 'application/json', 'x-provider': 'p' }, body: Buffer.from(JSON.stringify({ n, type })), orderingKey: 'k', replayId: null,
  });
  const messages = [];
  for (let n = 1; n <= 5; n++) messages.push({ key: 'k', value: await codec.encode(topics.rawEvents, 'raw-event', event(n, n % 2 ? 'order.paid' : 'order.created')) });
  // A poison record (not registry-framed Avro) between good ones, same partition.
  messages.splice(2, 0, { key: 'k', value: Buffer.from('not avro at all') });
  await producer.send({ topic: topics.rawEvents, messages });

  const router = buildRouter({ config, env: { ...runtimeFor(a), metricsPort: 0 }, log: quietLog });
  const ops = (await router.start()) as string;
  try {
    const all = await readTopic<Delivery>(a.KAFKA_BROKERS, a.SCHEMA_REGISTRY_URL, topics.delivery('all'), 5);
    assert.deepEqual(all.map((d) => d.eventId), ['evt-1', 'evt-2', 'evt-3', 'evt-4', 'evt-5'], 'the partition kept flowing past the poison record, in order');
    assert.equal(all[0]!.headers['content-type'], 'application/json');
    assert.equal(all[0]!.headers['x-provider'], undefined, "provider headers are not forwarded");
    const paid = await readTopic<Delivery>(a.KAFKA_BROKERS, a.SCHEMA_REGISTRY_URL, topics.delivery('paid'), 3);
    assert.deepEqual(paid.map((d) => d.eventId), ['evt-1', 'evt-3', 'evt-5']);
    const shaped = await readTopic<Delivery>(a.KAFKA_BROKERS, a.SCHEMA_REGISTRY_URL, topics.delivery('shaped'), 3);
    assert.deepEqual(shaped.map((d) => d.eventId), ['evt-1', 'evt-4', 'evt-5']);
    assert.deepEqual(JSON.parse(Buffer.from(shaped[1]!.body).toString()), { order: 4, src: 'shop', id: 'evt-4' });
    assert.equal(shaped[1]!.headers['x-order-type'], 'order.created');
    const dead = await readTopic<DeadLetter>(a.KAFKA_BROKERS, a.SCHEMA_REGISTRY_URL, topics.deadLetters, 3);
    const byStage = dead.map((d) => `${d.stage}:${d.eventId}:${d.destination}`).sort();
    assert.deepEqual(byStage, ['decode::', 'transform:evt-2:shaped', 'transform:evt-3:shaped']);
    assert.match(dead.find((d) => d.eventId === 'evt-2')!.lastError, /bad order/);
    assert.match(dead.find((d) => d.eventId === 'evt-3')!.lastError, /exceeded 50 ms|stack|D101/);
    assert.deepEqual(JSON.parse(Buffer.from(dead.find((d) => d.eventId === 'evt-2')!.body).toString()), { n: 2, type: 'order.created' });
    assert.equal((await fetch(`${ops}/readyz`)).status, 200);
    assert.equal((await fetch(`${ops}/healthz`)).status, 200);
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    assert.match(metrics, new RegExp(`hookyard_router_consumer_lag\\{topic="${topics.rawEvents.replace(/\./g, '\\.')}"[^}]*\\} 0`));
    assert.match(metrics, /hookyard_router_filtered_total\{source="shop",destination="paid"[^}]*\} 2/);
    assert.match(metrics, /hookyard_router_transform_errors_total\{source="shop",destination="shaped"[^}]*\} 2/);
  } finally {
    await router.close();
    await producer.disconnect();
    await admin.disconnect();
  }
});
