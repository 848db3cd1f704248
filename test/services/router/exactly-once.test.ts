// 20,000 events, 3 sources, 4 destinations, the router killed -9 at random at least 5 times
// mid-run: every matching (event, destination) is in its deliveries topic exactly once for
// a read_committed reader, and order per key holds.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { EnvelopeCodec, ensureTopics, topicNames, type Delivery, type RawEvent } from '@hookyard/core';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { spawnService, testConfig, writeConfigFile } from '../../support/stack.ts';

const children = new Set<ChildProcess>();
after(() => { for (const c of children) c.kill('SIGKILL'); });

test('router killed -9 five times: exactly one record per matching (event, destination), order kept per key', { timeout: 300_000 }, async () => {
  const a = await infra();
  const prefix = uniquePrefix('eos');
  const raw = {
    kafka: { topicPrefix: prefix, partitions: 3, sessionTimeoutMs: 6000 },
    sources: [{ name: 's1' }, { name: 's2' }, { name: 's3' }],
    destinations: ['d1', 'd2', 'd3', 'd4'].map((name) => ({ name, url: 'http://127.0.0.1:9/unused' })),
    connections: [
      { source: 's1', destination: 'd1' }, { source: 's1', destination: 'd2' },
      { source: 's2', destination: 'd2' }, { source: 's2', destination: 'd3' },
      { source: 's3', destination: 'd4', filter: { body: { even: true } } },
    ],
  };
  const config = testConfig(raw);
  const file = writeConfigFile(raw);
  const topics = topicNames(prefix);
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, [topics.rawEvents, ...['d1', 'd2', 'd3', 'd4'].map(topics.delivery)]);
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();

  const TOTAL = 20_000;
  const expected = new Map<string, number>(); // `${dest}|${eventId}` → 1
  const sources = ['s1', 's2', 's3'] as const;
  const fanout: Record<string, string[]> = { s1: ['d1', 'd2'], s2: ['d2', 'd3'], s3: ['d4'] };
  // Produce steadily for ~40 s so the kills land mid-run.
  const producing = (async () => {
    for (let i = 0; i < TOTAL; i += 200) {
      const messages = [];
      for (let n = i; n < i + 200; n++) {
        const source = sources[n % 3]!;
        const id = `evt-${String(n).padStart(6, '0')}`;
        const key = `key-${n % 97}`;
        const even = n % 2 === 0;
        const event: RawEvent = { id, source, receivedAt: Date.now(), method: 'POST', path: `/webhooks/${source}`, query: '', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ n, even })), orderingKey: key, replayId: null };
        for (const d of fanout[source]!) if (source !== 's3' || even) expected.set(`${d}|${id}`, n);
        messages.push({ key, value: await codec.encode(topics.rawEvents, 'raw-event', event) });
      }
      await producer.send({ topic: topics.rawEvents, acks: -1, messages });
      await new Promise((r) => setTimeout(r, 400));
    }
  })();

  let kills = 0;
  let router = await spawnService('router', file, a, 'router consuming');
  children.add(router);
  while (kills < 5) {
    await new Promise((r) => setTimeout(r, 1500 + Math.random() * 3000));
    router.kill('SIGKILL');
    await new Promise((r) => router.once('exit', r));
    children.delete(router);
    kills++;
    router = await spawnService('router', file, a, 'router consuming');
    children.add(router);
  }
  await producing;

  // Read every deliveries topic with read_committed (the kafkajs default) until all arrived.
  const seen = new Map<string, number>();
  const orderViolations: string[] = [];
  const lastN = new Map<string, number>();
  const reader = kafka.consumer({ groupId: `${prefix}verify`, readUncommitted: false });
  await reader.connect();
  await reader.subscribe({ topics: ['d1', 'd2', 'd3', 'd4'].map(topics.delivery), fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => {
    const d = await codec.decode<Delivery>(message.value!);
    const k = `${d.destination}|${d.eventId}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
    const n = (JSON.parse(Buffer.from(d.body).toString()) as { n: number }).n;
    const orderKey = `${d.destination}|${d.orderingKey}`;
    if ((lastN.get(orderKey) ?? -1) > n && orderViolations.length < 5) orderViolations.push(`${orderKey}: ${n} after ${lastN.get(orderKey)}`);
    lastN.set(orderKey, Math.max(n, lastN.get(orderKey) ?? -1));
  } });
  const deadline = Date.now() + 180_000;
  while (seen.size < expected.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 3000)); // room for any duplicate to show up
  await reader.disconnect();
  router.kill('SIGTERM');
  await producer.disconnect();
  await admin.disconnect();

  const missing = [...expected.keys()].filter((k) => !seen.has(k));
  const duplicated = [...seen].filter(([, c]) => c > 1);
  const unexpected = [...seen.keys()].filter((k) => !expected.has(k));
  assert.equal(kills, 5);
  assert.deepEqual({ missing: missing.length, duplicated: duplicated.length, unexpected: unexpected.length }, { missing: 0, duplicated: 0, unexpected: 0 },
    `missing e.g. ${missing.slice(0, 3)}; duplicated e.g. ${duplicated.slice(0, 3)}`);
  assert.equal(seen.size, expected.size);
  assert.deepEqual(orderViolations, []);
});
