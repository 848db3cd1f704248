// "Pending" means undelivered records. deliveries.* are written in the router's
// transactions, and each transaction leaves a commit marker in every partition it wrote:
// a consumer that commits "last record + 1" stays one offset short of the end for good.
// After N events are delivered, pending (the CLI) and every consumer-lag gauge read 0.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKafka, groupId } from '@hookyard/core';
import { buildDeliverer } from '../../services/deliverer/src/app.ts';
import { buildIngress } from '../../services/ingress/src/app.ts';
import { buildRouter } from '../../services/router/src/app.ts';
import { cli } from '../support/cli.ts';
import { infra, uniquePrefix } from '../support/infra.ts';
import { startSink } from '../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../support/stack.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

async function lag(metrics: { getSingleMetric(name: string): unknown }, name: string): Promise<Record<string, number>> {
  const gauge = metrics.getSingleMetric(name) as { get(): Promise<{ values: { labels: { topic?: string }; value: number }[] }> };
  const { values } = await gauge.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.topic), v.value]));
}

test('after N events through the router\'s transactions are delivered, pending and lag are 0', { timeout: 180_000 }, async () => {
  const a = await infra();
  const sink = await startSink();
  cleanup.push(() => sink.close());
  const prefix = uniquePrefix('pending');
  const config = testConfig({
    kafka: { topicPrefix: prefix, partitions: 3 },
    sources: [{ name: 'shop', orderingKey: 'body.customer' }],
    destinations: [{ name: 'loose', url: sink.url }, { name: 'ordered', url: sink.url, ordering: 'per-key' }],
    connections: [{ source: 'shop', destination: 'loose' }, { source: 'shop', destination: 'ordered' }],
  });
  const env = runtimeFor(a);
  const ingress = buildIngress({ config, env, log: quietLog });
  const router = buildRouter({ config, env, log: quietLog });
  const deliverer = buildDeliverer({ config, env, log: quietLog });
  await ingress.start();
  cleanup.push(() => ingress.close());
  await router.start();
  cleanup.push(() => router.close());
  await deliverer.start();
  cleanup.push(() => deliverer.close());

  const n = 30;
  for (let i = 0; i < n; i++) {
    // Sent one by one, so most land in transactions of their own: many markers.
    const res = await ingress.app.inject({ method: 'POST', url: '/webhooks/shop', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ customer: `cus_${i % 7}`, n: i }) });
    assert.equal(res.statusCode, 202);
    if (i % 5 === 0) await new Promise((r) => setTimeout(r, 100));
  }
  await sink.waitFor(2 * n, 60_000);

  // The case this is about exists: the topics hold more offsets than records.
  const kafka = createKafka(a.KAFKA_BROKERS.split(','), 'pending-test', quietLog);
  const admin = kafka.admin();
  await admin.connect();
  cleanup.push(() => admin.disconnect());
  for (const d of ['loose', 'ordered']) {
    const ends = await admin.fetchTopicOffsets(`${prefix}deliveries.${d}`);
    const offsets = ends.reduce((s, p) => s + Number(p.high), 0);
    assert.ok(offsets > n, `deliveries.${d}: ${offsets} offsets for ${n} records (commit markers among them)`);
  }

  await allZero(deliverer);
  assert.equal(sink.received.length, 2 * n, 'each event once at each destination');

  // A group committed at the markers (as before this fix, or by any consumer that commits
  // "last record + 1"): a deliverer started on it moves past them with no new traffic.
  await deliverer.close();
  const group = groupId(config.kafka, 'deliverer');
  for (const d of ['loose', 'ordered']) {
    const topic = `${prefix}deliveries.${d}`;
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId: group, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: String(Number(p.high) - 1) })) });
  }
  const second = buildDeliverer({ config, env, log: quietLog });
  await second.start();
  cleanup.push(() => second.close());
  await allZero(second);
  assert.equal(sink.received.length, 2 * n, 'nothing delivered again');

  // Commits follow deliveries asynchronously: wait (bounded) for everything to read 0.
  async function allZero(d: typeof deliverer): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = await cli(a, config, ['destination', 'status', '--json']);
      const pending = (JSON.parse(status.lines.join('\n')) as { name: string; pending: number }[]).map((s) => [s.name, s.pending]);
      const delivererLag = await lag(d.metrics, 'hookyard_deliverer_consumer_lag');
      const routerLag = await lag(router.metrics, 'hookyard_router_consumer_lag');
      const zero = pending.every(([, p]) => p === 0)
        && Object.keys(delivererLag).length === 2 && Object.values(delivererLag).every((v) => v === 0)
        && Object.values(routerLag).length === 1 && Object.values(routerLag).every((v) => v === 0);
      if (zero) return;
      assert.ok(Date.now() < deadline, `still not 0 after 30 s: ${JSON.stringify({ pending, delivererLag, routerLag })}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
});
