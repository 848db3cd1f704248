// Ingress against real Kafka and the registry: what is answered, and what lands in raw-events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { topicNames, type RawEvent } from '@hookyard/core';
import { readTopic } from '../../support/topics.ts';
import { endOffsets } from '../../support/raw-events.ts';
import { buildIngress, type Ingress } from '../../../services/ingress/src/app.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { quietLog, runtimeFor, testConfig, whenReady } from '../../support/stack.ts';

describe('ingress with Kafka up', () => {
  let ingress: Ingress;
  let url = '';
  let prefix = '';
  let addr: Awaited<ReturnType<typeof infra>>;

  before(async () => {
    addr = await infra();
    prefix = uniquePrefix('ingress');
    const config = testConfig({
      kafka: { topicPrefix: prefix, partitions: 3 },
      sources: [
        { name: 'github', orderingKey: 'headers.x-github-delivery' },
        { name: 'small', maxBodyBytes: 100, orderingKey: 'body.customer' },
      ],
    });
    ingress = buildIngress({ config, env: runtimeFor(addr), log: quietLog });
    url = await whenReady(await ingress.start({ port: 0, host: '127.0.0.1' }));
  });
  after(() => ingress.close());

  test('captures the exact bytes, headers, query and ordering key; answers 202 with the id', async () => {
    const body = Buffer.from([0x00, 0xff, 0x7b, 0x0a, 0xc3]); // not valid UTF-8 on purpose
    const res = await fetch(`${url}/webhooks/github?a=1&b=two`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-github-delivery': 'd-42' }, body });
    assert.equal(res.status, 202);
    const { id } = (await res.json()) as { id: string };
    const json = await fetch(`${url}/webhooks/small`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"customer":"cus_9"}' });
    assert.equal(json.status, 202);
    const events = await readTopic<RawEvent>(addr.KAFKA_BROKERS, addr.SCHEMA_REGISTRY_URL, topicNames(prefix).rawEvents, 2);
    const ev = events.find((e) => e.id === id);
    assert.ok(ev, 'event in raw-events');
    assert.deepEqual(Buffer.from(ev.body), body);
    assert.equal(ev.source, 'github');
    assert.equal(ev.query, 'a=1&b=two');
    assert.equal(ev.path, '/webhooks/github');
    assert.equal(ev.headers['x-github-delivery'], 'd-42');
    assert.equal(ev.orderingKey, 'd-42');
    assert.equal(events.find((e) => e.source === 'small')?.orderingKey, 'cus_9');
  });

  test('unknown source → 404 with a stable error code', async () => {
    const res = await fetch(`${url}/webhooks/nope`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'SOURCE_NOT_FOUND');
  });

  test('body over the source limit → 413', async () => {
    const res = await fetch(`${url}/webhooks/small`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customer: 'x'.repeat(200) }) });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'BODY_TOO_LARGE');
  });

  test('an HTTP/0.9 request line is refused, not captured as an empty POST (found by the fuzz suite)', async () => {
    const topic = topicNames(prefix).rawEvents;
    const before = await endOffsets(addr, topic);
    const { port } = new URL(url);
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      const s = connect(Number(port), '127.0.0.1', () => s.write('POST /webhooks/github\r\n\r\n{"a":1}'));
      s.on('data', (b: Buffer) => { got += b.toString(); });
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await endOffsets(addr, topic), before, 'nothing produced');
  });

  test('healthz, readyz (a real metadata call) and metrics', async () => {
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /hookyard_ingress_requests_total\{source="github",outcome="accepted"/);
  });
});

describe('ingress with Kafka down', () => {
  test('answers 503 with Retry-After and readyz says not ready', async () => {
    const addr = await infra();
    // A port nothing listens on: a broker that is down.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
    });
    const config = testConfig({ kafka: { topicPrefix: uniquePrefix('down'), produceTimeoutMs: 1000 }, sources: [{ name: 'stripe' }] });
    const ingress = buildIngress({ config, env: { ...runtimeFor(addr), brokers: [`127.0.0.1:${port}`] }, log: quietLog });
    const url = await ingress.start({ port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"evt_1"}' });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CAPTURE_UNAVAILABLE');
      assert.equal((await fetch(`${url}/readyz`)).status, 503);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
    } finally {
      await ingress.close();
    }
  });
});
