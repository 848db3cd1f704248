// Ingress refusals and dedup against real Kafka and Redis: what is answered, and what is
// (not) in raw-events and ingress-rejections afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import Stripe from 'stripe';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { topicNames, type IngressRejection, type RawEvent } from '@hookyard/core';
import { readTopic } from '../../support/topics.ts';
import { buildIngress, type Ingress } from '../../../services/ingress/src/app.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { quietLog, runtimeFor, testConfig, whenReady } from '../../support/stack.ts';

const stripe = new Stripe('sk_test_unused');
const SECRET = 'whsec_ingress_test';
const sign = (body: string, ts = Math.floor(Date.now() / 1000)) => stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET, timestamp: ts });

async function count(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
}

describe('ingress verification, dedup and refusals', () => {
  let ingress: Ingress;
  let url = '';
  let prefix = '';
  let kafka: Kafka;
  let admin: Admin;
  let brokers = '';
  let registry = '';

  before(async () => {
    const a = await infra();
    prefix = uniquePrefix('verify');
    const config = testConfig({
      kafka: { topicPrefix: prefix, partitions: 3 },
      ingress: { rejectionsPerSecond: 100_000 },
      sources: [
        { name: 'stripe', verify: { type: 'stripe', secret: SECRET }, dedupKey: 'body.id', eventType: 'body.type', allowedEventTypes: ['invoice.*', 'customer.subscription.*'], orderingKey: 'body.data.object.customer', maxBodyBytes: 2048 },
        { name: 'office', allowedIps: ['10.0.0.0/8'] },
        { name: 'hooks', dedup: { window: '1h', excludeFields: ['body.sentAt'] } },
      ],
    });
    ingress = buildIngress({ config, env: runtimeFor(a), log: quietLog });
    url = await whenReady(await ingress.start({ port: 0, host: '127.0.0.1' }));
    kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    brokers = a.KAFKA_BROKERS;
    registry = a.SCHEMA_REGISTRY_URL;
  });
  after(async () => { await admin.disconnect(); await ingress.close(); });

  const post = (source: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${url}/webhooks/${source}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  test('forged, replayed, wrong-type and duplicate requests never reach raw-events; refusals are recorded without secrets', async () => {
    const topics = topicNames(prefix);
    const body = JSON.stringify({ id: 'evt_a', type: 'invoice.paid', data: { object: { customer: 'cus_7' } } });
    const ok = await post('stripe', body, { 'stripe-signature': sign(body) });
    assert.equal(ok.status, 202);
    const { id } = (await ok.json()) as { id: string };

    const forged = await post('stripe', body.replace('cus_7', 'cus_8'), { 'stripe-signature': sign(body) });
    assert.equal(forged.status, 401);
    assert.deepEqual(await forged.json(), { error: { code: 'UNAUTHORIZED', message: 'request could not be authenticated' } });
    const replayed = await post('stripe', body, { 'stripe-signature': sign(body, Math.floor(Date.now() / 1000) - 3600) });
    assert.equal(replayed.status, 401);
    const badType = JSON.stringify({ id: 'evt_b', type: 'charge.succeeded' });
    assert.equal((await post('stripe', badType, { 'stripe-signature': sign(badType) })).status, 422);
    const dup = await post('stripe', body, { 'stripe-signature': sign(body) });
    assert.equal(dup.status, 200);
    assert.deepEqual(await dup.json(), { id, duplicate: true });

    assert.equal(await count(admin, topics.rawEvents), 1);
    const [ev] = await readTopic<RawEvent>(brokers, registry, topics.rawEvents, 1);
    assert.equal(ev?.orderingKey, 'cus_7');
    const rejections = await readTopic<IngressRejection>(brokers, registry, topics.rejections, 3);
    assert.deepEqual(rejections.map((r) => r.reason).sort(), ['bad_signature', 'event_type_not_allowed', 'timestamp_out_of_tolerance']);
    for (const r of rejections) {
      assert.equal(r.headers['stripe-signature'], '[redacted]');
      assert.equal(r.source, 'stripe');
      assert.match(r.bodySha256 ?? '', /^[0-9a-f]{64}$/);
    }
  });

  test('IP allow list refuses other peers before reading the body', async () => {
    const res = await post('office', '{}');
    assert.equal(res.status, 401);
  });

  test('Hookdeck-style dedup hashing ignores excluded fields', async () => {
    const a = await post('hooks', JSON.stringify({ order: 1, sentAt: 'one' }));
    assert.equal(a.status, 202);
    const b = await post('hooks', JSON.stringify({ sentAt: 'two', order: 1 }));
    assert.equal(b.status, 200);
    assert.equal(((await b.json()) as { id: string }).id, ((await a.json()) as { id: string }).id);
    assert.equal((await post('hooks', JSON.stringify({ order: 2, sentAt: 'one' }))).status, 202);
  });

  test('a gzip body signed before compression verifies, and is captured as the bytes received', async () => {
    const body = JSON.stringify({ id: 'evt_gz', type: 'invoice.created', data: { object: { customer: 'cus_gz' } } });
    const gz = gzipSync(body);
    const res = await post('stripe', gz, { 'stripe-signature': sign(body), 'content-encoding': 'gzip' });
    assert.equal(res.status, 202);
    const { id } = (await res.json()) as { id: string };
    const events = await readTopic<RawEvent>(brokers, registry, topicNames(prefix).rawEvents, await count(admin, topicNames(prefix).rawEvents));
    const ev = events.find((e) => e.id === id);
    assert.deepEqual(Buffer.from(ev!.body), gz);
    assert.equal(ev!.orderingKey, 'cus_gz');
  });
});

test('a mixed run of 10,000 requests yields exactly the expected answers and records', { timeout: 240_000 }, async () => {
  const a = await infra();
  const prefix = uniquePrefix('mixed');
  const config = testConfig({
    kafka: { topicPrefix: prefix, partitions: 3 },
    sources: [{ name: 'stripe', verify: { type: 'stripe', secret: SECRET }, dedupKey: 'body.id', orderingKey: 'body.data.object.customer', maxBodyBytes: 2048 }],
  });
  const ingress = buildIngress({ config, env: runtimeFor(a), log: quietLog });
  const url = await whenReady(await ingress.start({ port: 0, host: '127.0.0.1' }));
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    type Req = { source: string; body: string; headers: Record<string, string>; expect: number };
    const valid = (i: number) => JSON.stringify({ id: `evt_${i}`, type: 'invoice.paid', data: { object: { customer: `cus_${i % 50}` } } });
    const first: Req[] = [];
    for (let i = 0; i < 6000; i++) first.push({ source: 'stripe', body: valid(i), headers: { 'stripe-signature': sign(valid(i)) }, expect: 202 });
    for (let i = 0; i < 1500; i++) first.push({ source: 'stripe', body: valid(100_000 + i), headers: { 'stripe-signature': sign(valid(i)) }, expect: 401 });
    for (let i = 0; i < 500; i++) {
      const big = JSON.stringify({ id: `evt_big_${i}`, type: 'invoice.paid', pad: 'x'.repeat(3000) });
      first.push({ source: 'stripe', body: big, headers: { 'stripe-signature': sign(big) }, expect: 413 });
    }
    for (let i = 0; i < 1000; i++) first.push({ source: 'nope', body: valid(i), headers: {}, expect: 404 });
    const second: Req[] = [];
    for (let i = 0; i < 1000; i++) second.push({ source: 'stripe', body: valid(i * 3), headers: { 'stripe-signature': sign(valid(i * 3)) }, expect: 200 });

    const answers = new Map<number, number>();
    const mismatches: string[] = [];
    async function run(reqs: Req[]) {
      let next = 0;
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < reqs.length) {
          const r = reqs[next++]!;
          const res = await fetch(`${url}/webhooks/${r.source}`, { method: 'POST', headers: { 'content-type': 'application/json', ...r.headers }, body: r.body });
          await res.arrayBuffer();
          answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
          if (res.status !== r.expect && mismatches.length < 5) mismatches.push(`${r.expect} → ${res.status}`);
        }
      }));
    }
    // Shuffled so refusals interleave with valid traffic.
    await run(first.sort(() => Math.random() - 0.5));
    await run(second);
    assert.deepEqual(mismatches, []);
    assert.deepEqual(Object.fromEntries([...answers].sort()), { 200: 1000, 202: 6000, 401: 1500, 404: 1000, 413: 500 });
    assert.equal(await count(admin, topicNames(prefix).rawEvents), 6000);
  } finally {
    await admin.disconnect();
    await ingress.close();
  }
});
