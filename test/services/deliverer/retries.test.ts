// Outcome classes, the retry schedule (in milliseconds), Retry-After, dead letters and
// non-blocking retries, against real Kafka, Redis and HTTP sinks.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { EnvelopeCodec, ensureTopics, topicNames, type Config, type DeadLetter, type Delivery, type DeliveryAttempt } from '@hookyard/core';
import { buildDeliverer } from '../../../services/deliverer/src/app.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startSink, type Sink } from '../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../support/stack.ts';
import { readTopic } from '../../support/topics.ts';

const sinks: Record<string, Sink> = {};
let config: Config;
let producer: Producer;
let codec: EnvelopeCodec;
let addr: Awaited<ReturnType<typeof infra>>;
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

before(async () => {
  addr = await infra();
  for (const name of ['flaky', 'bad', 'exhaust', 'ra', 'slow', 'ordered', 'long', 'quick']) sinks[name] = await startSink();
  cleanup.push(...Object.values(sinks).map((s) => () => s.close()));
  sinks.flaky!.respond = (n) => (n < 2 ? 503 : 200);
  sinks.bad!.respond = 400;
  sinks.long!.respond = 500;
  sinks.quick!.respond = (n) => (n === 0 ? 503 : 200);
  sinks.exhaust!.respond = 500;
  sinks.ra!.respond = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '2' } } : 200);
  sinks.slow!.respond = (_n, r) => (JSON.parse(r.body.toString()).n === 0 && sinks.slow!.requests.length === 0 ? 503 : 200);
  // Key a's first event fails twice; everything else succeeds.
  sinks.ordered!.respond = (_n, r) => {
    const { n } = JSON.parse(r.body.toString()) as { n: number };
    return n === 1 && sinks.ordered!.requests.filter((q) => JSON.parse(q.body.toString()).n === 1).length < 2 ? 503 : 200;
  };
  config = testConfig({
    kafka: { topicPrefix: uniquePrefix('retry'), partitions: 1 },
    sources: [{ name: 's' }],
    destinations: [
      { name: 'flaky', url: sinks.flaky!.url, retry: { schedule: [0, 100, 200] } },
      { name: 'bad', url: sinks.bad!.url },
      { name: 'exhaust', url: sinks.exhaust!.url, retry: { schedule: [0, 50, 50] } },
      { name: 'ra', url: sinks.ra!.url, retry: { schedule: [0, 10] } },
      { name: 'slow', url: sinks.slow!.url, retry: { schedule: [0, 3000] } },
      { name: 'ordered', url: sinks.ordered!.url, ordering: 'per-key', retry: { schedule: [0, 1000, 1000] } },
      { name: 'long', url: sinks.long!.url, retry: { schedule: [0, 600_000] } },
      { name: 'quick', url: sinks.quick!.url, retry: { schedule: [0, 300] } },
    ],
  });
  const kafka = new Kafka({ brokers: addr.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, config.destinations.map((d) => topicNames(config.kafka.topicPrefix).delivery(d.name)));
  await admin.disconnect();
  producer = kafka.producer();
  await producer.connect();
  cleanup.push(() => producer.disconnect());
  codec = new EnvelopeCodec(addr.SCHEMA_REGISTRY_URL);
  const deliverer = buildDeliverer({ config, env: runtimeFor(addr), log: quietLog });
  await deliverer.start();
  cleanup.push(() => deliverer.close());
});

async function send(destination: string, n: number, key = 'k'): Promise<string> {
  const topic = topicNames(config.kafka.topicPrefix).delivery(destination);
  const d: Delivery = { eventId: `evt-${destination}-${n}`, source: 's', destination, receivedAt: Date.now(), orderingKey: key, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ n })), attempt: 0, replayId: null };
  await producer.send({ topic, messages: [{ key, value: await codec.encode(topic, 'delivery', d) }] });
  return d.eventId;
}

test('5xx is retried on the schedule until a 2xx; every attempt is recorded', async () => {
  const id = await send('flaky', 1);
  await sinks.flaky!.waitFor(1, 30_000);
  const reqs = sinks.flaky!.requests;
  assert.deepEqual(reqs.map((r) => r.status), [503, 503, 200]);
  assert.ok(reqs[1]!.at - reqs[0]!.at >= 90, `second attempt after ~100 ms (${reqs[1]!.at - reqs[0]!.at})`);
  assert.ok(reqs[2]!.at - reqs[1]!.at >= 180, `third attempt after ~200 ms (${reqs[2]!.at - reqs[1]!.at})`);
  assert.equal(new Set(reqs.map((r) => r.headers['webhook-id'])).size, 1, 'webhook-id is stable across attempts');
  const all = await readTopic<DeliveryAttempt>(addr.KAFKA_BROKERS, addr.SCHEMA_REGISTRY_URL, topicNames(config.kafka.topicPrefix).attempts, 3);
  const mine = all.filter((a) => a.eventId === id).sort((a, b) => a.attempt - b.attempt);
  assert.deepEqual(mine.map((a) => [a.attempt, a.status, a.outcome]), [[1, 503, 'retry'], [2, 503, 'retry'], [3, 200, 'success']]);
  assert.ok(mine[0]!.nextAttemptAt! > mine[0]!.at);
});

test('a non-retryable 4xx goes to dead-letters at once; exhausted retries go there with the last status', async () => {
  const bad = await send('bad', 1);
  const exhausted = await send('exhaust', 1);
  const prefix = config.kafka.topicPrefix;
  const dead = await readTopic<DeadLetter>(addr.KAFKA_BROKERS, addr.SCHEMA_REGISTRY_URL, topicNames(prefix).deadLetters, 2, 30_000);
  const b = dead.find((d) => d.eventId === bad)!;
  assert.deepEqual([b.stage, b.attempts, b.lastStatus], ['delivery', 1, 400]);
  assert.equal(sinks.bad!.requests.length, 1);
  const e = dead.find((d) => d.eventId === exhausted)!;
  assert.deepEqual([e.attempts, e.lastStatus], [3, 500]);
  assert.match(e.lastError, /attempts exhausted/);
  assert.equal(sinks.exhaust!.requests.length, 3);
  assert.deepEqual(JSON.parse(Buffer.from(e.body).toString()), { n: 1 });
});

test('Retry-After is honoured over a shorter schedule', async () => {
  await send('ra', 1);
  await sinks.ra!.waitFor(1, 30_000);
  const [first, second] = sinks.ra!.requests;
  assert.equal(first!.status, 429);
  assert.ok(second!.at - first!.at >= 1900, `waited ${second!.at - first!.at} ms`);
});

test('a waiting retry does not hold up the rest of its partition', async () => {
  await send('slow', 0);
  await new Promise((r) => setTimeout(r, 300));
  for (let n = 1; n <= 3; n++) await send('slow', n);
  const got = await sinks.slow!.waitFor(4, 30_000);
  const order = got.map((r) => JSON.parse(r.body.toString()).n as number);
  // Unordered: 1–3 may be attempted side by side, in any order among themselves.
  assert.deepEqual([...order.slice(0, 3)].sort(), [1, 2, 3], 'later events first');
  assert.equal(order[3], 0, 'the retried one after its wait');
  const failedAt = sinks.slow!.requests[0]!.at;
  assert.ok(got[2]!.at - failedAt < 2500, 'others delivered while event 0 waited');
  assert.ok(got[3]!.at - failedAt >= 2700, 'the retry waited its ~3 s');
});

test('a retry waiting minutes in a long tier does not hold back a short tier\'s due retries', async () => {
  // The long one waits in the 300 s tier; before the fix its batch slept in the retry
  // consumer and no other tier was fetched until it woke.
  await send('long', 1, 'x');
  while (sinks.long!.requests.length === 0) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = Date.now();
  await send('quick', 1, 'y');
  await sinks.quick!.waitFor(1, 30_000);
  const [first, second] = sinks.quick!.requests;
  assert.equal(first!.status, 503);
  assert.ok(second!.at - t0 < 5000, `the quick retry came ${second!.at - t0} ms after its event`);
  assert.equal(sinks.long!.requests.length, 1, 'the long one still waits');
});

test('per-key: a key waiting for its retry holds back only its own later events', async () => {
  // One partition: a1 a2 b1 a3 b2, in that order. a1 fails twice (1 s apart).
  for (const [n, key] of [[1, 'a'], [2, 'a'], [3, 'b'], [4, 'a'], [5, 'b']] as const) await send('ordered', n, key);
  const got = await sinks.ordered!.waitFor(5, 30_000);
  const order = got.map((r) => JSON.parse(r.body.toString()).n as number);
  assert.deepEqual(order.filter((n) => n !== 3 && n !== 5), [1, 2, 4], 'key a in order');
  assert.ok(order.indexOf(3) < order.indexOf(1) && order.indexOf(5) < order.indexOf(1), `key b passed the stuck key (${order.join(',')})`);
  const reqs = sinks.ordered!.requests;
  assert.deepEqual(reqs.filter((r) => JSON.parse(r.body.toString()).n === 1).map((r) => r.status), [503, 503, 200]);
  const a1ok = got.find((r) => JSON.parse(r.body.toString()).n === 1)!.at;
  assert.ok(reqs.filter((r) => [2, 4].includes(JSON.parse(r.body.toString()).n)).every((r) => r.at >= a1ok), 'a2 and a3 not even tried before a1 succeeded');
  assert.ok(a1ok - reqs[0]!.at >= 1800, 'a1 waited its schedule');
});

test('a poison record goes to dead-letters and its partition keeps flowing', async () => {
  const topic = topicNames(config.kafka.topicPrefix).delivery('flaky');
  await producer.send({ topic, messages: [{ key: 'k', value: Buffer.from('not an envelope') }] });
  const before = sinks.flaky!.received.length;
  await send('flaky', 99);
  await sinks.flaky!.waitFor(before + 1, 30_000);
  const dead = await readTopic<DeadLetter>(addr.KAFKA_BROKERS, addr.SCHEMA_REGISTRY_URL, topicNames(config.kafka.topicPrefix).deadLetters, 3, 30_000);
  const poison = dead.find((d) => d.stage === 'decode');
  assert.ok(poison, 'dead letter for the poison record');
  assert.equal(poison.destination, 'flaky');
  assert.equal(Buffer.from(poison.body).toString(), 'not an envelope');
});
