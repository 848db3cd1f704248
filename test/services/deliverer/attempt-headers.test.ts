// The attempt record keeps the headers each attempt sent (the console's trace shows them),
// with every secret replaced: what reaches the destination and what is recorded differ
// only there.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED, topicNames, type DeliveryAttempt } from '@hookyard/core';
import { buildDeliverer } from '../../../services/deliverer/src/app.ts';
import { deliveryFeeder, delivery } from '../../support/feeder.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startSink } from '../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../support/stack.ts';
import { readTopic } from '../../support/topics.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

const TOKEN = 'tok_live_9f8e7d';
const SHOP_KEY = 'shop-key-5a4b3c';
const UPSTREAM = 'upstream-token-1a2b';

test('each attempt record carries the headers sent, signature and credentials redacted', { timeout: 120_000 }, async () => {
  const addr = await infra();
  const signed = await startSink();
  const keyed = await startSink();
  cleanup.push(() => signed.close(), () => keyed.close());
  signed.respond = (n) => (n === 0 ? 503 : 200);
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('attempt-headers'), partitions: 1 },
    sources: [{ name: 's' }],
    destinations: [
      { name: 'signed', url: signed.url, auth: { type: 'bearer', token: TOKEN }, signingSecret: 'whsec_dGVzdHNlY3JldA==', retry: { schedule: [0, 50] } },
      // A header-type auth under a name core's redaction would not recognise by itself.
      { name: 'keyed', url: keyed.url, auth: { type: 'header', name: 'X-Shop-Key', value: SHOP_KEY } },
    ],
  });
  const topics = topicNames(config.kafka.topicPrefix);
  const feeder = await deliveryFeeder(addr, config);
  cleanup.push(() => feeder.close());
  const deliverer = buildDeliverer({ config, env: runtimeFor(addr), log: quietLog });
  await deliverer.start();
  cleanup.push(() => deliverer.close());

  const send = async (destination: string): Promise<string> => {
    const d = delivery(destination, 1, { eventId: `evt-${destination}`, orderingKey: 'k', headers: { 'content-type': 'application/json', 'x-upstream-token': UPSTREAM } });
    await feeder.send([d]);
    return d.eventId;
  };
  const signedId = await send('signed');
  const keyedId = await send('keyed');
  await signed.waitFor(1);
  await keyed.waitFor(1);

  const records = await readTopic<DeliveryAttempt>(addr.KAFKA_BROKERS, addr.SCHEMA_REGISTRY_URL, topics.attempts, 3);
  const mine = records.filter((a) => a.eventId === signedId).sort((a, b) => a.attempt - b.attempt);
  assert.deepEqual(mine.map((a) => [a.attempt, a.status]), [[1, 503], [2, 200]]);
  for (const [i, a] of mine.entries()) {
    const sent = signed.requests[i]!.headers;
    const h = a.requestHeaders;
    assert.ok(h, `attempt ${a.attempt} has its headers`);
    assert.equal(sent.authorization, `Bearer ${TOKEN}`, 'the destination got the real credential');
    assert.match(String(sent['webhook-signature']), /^v1,/);
    assert.equal(h.authorization, REDACTED);
    assert.equal(h['webhook-signature'], REDACTED);
    assert.equal(h['x-upstream-token'], REDACTED, 'a forwarded header named like a credential');
    assert.equal(h['webhook-id'], `${signedId}.signed`);
    assert.equal(h['webhook-id'], sent['webhook-id']);
    assert.equal(h['webhook-timestamp'], sent['webhook-timestamp'], 'this attempt\'s own timestamp');
    assert.equal(h['x-hookyard-event-id'], signedId);
    assert.equal(h['content-type'], 'application/json');
    const text = JSON.stringify(a);
    for (const secret of [TOKEN, UPSTREAM, String(sent['webhook-signature']).slice(3)]) assert.ok(!text.includes(secret), 'no secret in the record');
  }

  const k = records.find((a) => a.eventId === keyedId);
  assert.equal(keyed.received[0]!.headers['x-shop-key'], SHOP_KEY);
  assert.equal(k?.requestHeaders?.['x-shop-key'], REDACTED);
  assert.equal(k?.requestHeaders?.['webhook-id'], `${keyedId}.keyed`);
  assert.equal(k?.requestHeaders?.['webhook-signature'], undefined, 'unsigned: nothing invented');
  assert.ok(!JSON.stringify(k).includes(SHOP_KEY));
});
