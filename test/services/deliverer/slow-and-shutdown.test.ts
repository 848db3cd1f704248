// A 30 s destination does not get the deliverer evicted from its group (heartbeats go on
// while attempts are in flight), and close() finishes in-flight attempts within the
// configured deadline, commits, and hands back what it could not finish.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Counter } from 'prom-client';
import { buildDeliverer } from '../../../services/deliverer/src/app.ts';
import { deliveryFeeder, delivery } from '../../support/feeder.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startSink } from '../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../support/stack.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

async function joins(d: ReturnType<typeof buildDeliverer>): Promise<number> {
  const m = d.metrics.getSingleMetric('hookyard_deliverer_rebalances_total') as Counter | undefined;
  const v = await m?.get();
  return v?.values.find((x) => x.labels.consumer === 'main')?.value ?? 0;
}

test('a destination answering in 30 s: no eviction, no re-send, other destinations keep flowing', { timeout: 120_000 }, async () => {
  const a = await infra();
  const slow = await startSink();
  const fast = await startSink();
  cleanup.push(() => slow.close(), () => fast.close());
  slow.respond = () => ({ status: 200, delayMs: 30_000 });
  const config = testConfig({
    // The smallest session timeout: a blocked consumer loop would be evicted 5 times over.
    kafka: { topicPrefix: uniquePrefix('slow'), partitions: 1, sessionTimeoutMs: 6000 },
    sources: [{ name: 's' }],
    destinations: [{ name: 'slow', url: slow.url, timeoutMs: 45_000 }, { name: 'fast', url: fast.url }],
  });
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  const d = buildDeliverer({ config, env: runtimeFor(a), log: quietLog });
  cleanup.push(() => d.close());
  await d.start();
  await feeder.send([delivery('slow', 1), delivery('slow', 2)]);
  await slow.waitFor(2, 15_000);
  const t0 = Date.now();
  await feeder.send(Array.from({ length: 20 }, (_, i) => delivery('fast', i)));
  await fast.waitFor(20, 10_000);
  assert.ok(Date.now() - t0 < 10_000, 'the fast destination is not held up');
  await sleep(34_000); // the slow answers arrive, and anything re-sent after an eviction would too
  assert.equal(slow.requests.length, 2, 'each slow delivery sent once');
  assert.equal(await joins(d), 1, 'one group join: never evicted');
  await d.close();
});

test('close() lets in-flight attempts finish and commits them; past the deadline they are handed back', { timeout: 120_000 }, async () => {
  const a = await infra();
  const sink = await startSink();
  cleanup.push(() => sink.close());
  // Event 1 answers in 2 s (within the deadline); event 2 in 8 s the first time (past it).
  const seen = new Set<string>();
  sink.respond = (_n, r) => {
    const id = r.headers['x-hookyard-event-id'] as string;
    const first = !seen.has(id);
    seen.add(id);
    return { status: 200, delayMs: first ? (id === 'e-1' ? 2000 : 8000) : 0 };
  };
  const raw = {
    kafka: { topicPrefix: uniquePrefix('drain'), partitions: 1 },
    deliverer: { shutdownTimeoutMs: 4000 },
    sources: [{ name: 's' }],
    destinations: [{ name: 'd', url: sink.url, timeoutMs: 1000 * 20 }],
  };
  const config = testConfig(raw);
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  const first = buildDeliverer({ config, env: runtimeFor(a), log: quietLog });
  await first.start();
  await feeder.send([delivery('d', 1), delivery('d', 2)]);
  const deadline = Date.now() + 15_000;
  while (sink.requests.length < 2 && Date.now() < deadline) await sleep(50);
  const t0 = Date.now();
  await first.close();
  const took = Date.now() - t0;
  assert.ok(took >= 1500, `close waited for the 2 s attempt (${took} ms)`);
  assert.ok(took < 12_000, `close kept its deadline (${took} ms)`);

  // The next owner must not re-send event 1 (finished and committed) and must send event 2.
  const second = buildDeliverer({ config, env: runtimeFor(a), log: quietLog });
  cleanup.push(() => second.close());
  await second.start();
  const until = Date.now() + 40_000;
  while (sink.requests.filter((r) => r.headers['x-hookyard-event-id'] === 'e-2').length < 2 && Date.now() < until) await sleep(100);
  await sleep(1000);
  const count = (id: string) => sink.requests.filter((r) => r.headers['x-hookyard-event-id'] === id).length;
  assert.equal(count('e-1'), 1, 'the finished attempt was committed at shutdown');
  assert.equal(count('e-2'), 2, 'the unfinished attempt was handed back and sent again');
});
