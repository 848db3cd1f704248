// One webhook end to end through real Kafka, the registry and Redis: ingress → raw-events
// → router → deliveries.<destination> → deliverer → an HTTP sink, byte for byte.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { buildIngress } from '../../services/ingress/src/app.ts';
import { buildRouter } from '../../services/router/src/app.ts';
import { buildDeliverer } from '../../services/deliverer/src/app.ts';
import { infra, uniquePrefix } from '../support/infra.ts';
import { startSink, type Sink } from '../support/sink.ts';
import { quietLog, runtimeFor, testConfig, whenReady } from '../support/stack.ts';

const secret = 'whsec_' + Buffer.from('a-32-byte-secret-for-the-e2e-tst').toString('base64');
let sink: Sink;
const closers: (() => Promise<unknown>)[] = [];
let baseUrl = '';

before(async () => {
  const a = await infra();
  sink = await startSink();
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('e2e'), partitions: 2 },
    sources: [{ name: 'shop', orderingKey: 'body.customer' }],
    destinations: [{ name: 'orders', url: sink.url, signingSecret: secret }],
    connections: [{ source: 'shop', destination: 'orders' }],
  });
  const env = runtimeFor(a);
  const ingress = buildIngress({ config, env, log: quietLog });
  const router = buildRouter({ config, env, log: quietLog });
  const deliverer = buildDeliverer({ config, env, log: quietLog });
  baseUrl = await whenReady(await ingress.start({ port: 0, host: '127.0.0.1' }));
  await router.start();
  await deliverer.start();
  closers.push(() => ingress.close(), () => router.close(), () => deliverer.close(), () => sink.close());
});

after(async () => {
  for (const c of closers) await c();
});

test('a webhook reaches the sink byte-for-byte with its event id and a verifiable signature', async () => {
  // Deliberately odd bytes: whitespace and key order a JSON round trip would change.
  const body = Buffer.from('{ "customer":"cus_1",  "amount": 1.50, "z":1, "a":"\u00e9" }\n');
  const res = await fetch(`${baseUrl}/webhooks/shop?x=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 202);
  const { id } = (await res.json()) as { id: string };
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);

  const [got] = await sink.waitFor(1, 60_000);
  assert.ok(got);
  assert.deepEqual(got.body, body);
  assert.equal(got.headers['x-hookyard-event-id'], id);
  assert.equal(got.headers['x-hookyard-source'], 'shop');
  assert.equal(got.headers['content-type'], 'application/json');
  assert.equal(got.headers['webhook-id'], `${id}.orders`);
  const verified = new Webhook(secret).verify(got.body.toString('utf8'), got.headers as Record<string, string>);
  assert.equal((verified as { customer: string }).customer, 'cus_1');
});

test('several events from one key arrive in order', async () => {
  const before = sink.received.length;
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${baseUrl}/webhooks/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customer: 'cus_order', n: i }) });
    assert.equal(res.status, 202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  const got = (await sink.waitFor(before + 5, 60_000)).slice(before);
  assert.deepEqual(got.map((r) => r.headers['x-hookyard-event-id']), ids);
});
