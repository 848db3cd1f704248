// Destination protection with real Kafka, Redis and HTTP sinks: the breaker holds a
// failing destination's events (no attempts burnt) while a healthy one flows, and delivers
// them once it recovers; a rate limit holds across three replicas; pause survives a
// restart of every service; a 410 pauses its destination.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '@hookyard/core';
import { buildDeliverer } from '../../../services/deliverer/src/app.ts';
import { cli } from '../../support/cli.ts';
import { deliveryFeeder, delivery } from '../../support/feeder.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startSink } from '../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../support/stack.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

async function deliverers(a: Awaited<ReturnType<typeof infra>>, config: Config, n = 1) {
  const list = Array.from({ length: n }, () => buildDeliverer({ config, env: runtimeFor(a), log: quietLog }));
  for (const d of list) {
    await d.start();
    cleanup.push(() => d.close());
  }
  return list;
}

/** A sink that answers 503 while `down` is set, 2xx after. */
async function failingSink() {
  const sink = await startSink();
  cleanup.push(() => sink.close());
  const state = { down: true, sink };
  sink.respond = () => (state.down ? 503 : 200);
  return state;
}

const ids = (reqs: { headers: Record<string, unknown> }[]) => reqs.map((r) => r.headers['x-hookyard-event-id'] as string);

/** After recovery: every held event reaches the sink, each once (a second late copy would show within a second). */
async function expectEachHeldOnce(sink: Awaited<ReturnType<typeof startSink>>, n: number, timeoutMs: number): Promise<void> {
  await sink.waitFor(n, timeoutMs);
  await sleep(1000);
  const okIds = ids(sink.received);
  assert.equal(new Set(okIds).size, n, 'every held event delivered');
  assert.equal(okIds.length, n, 'each once');
}

test('breaker: a failing destination is held without burning attempts, a healthy one flows, all delivered once after recovery', { timeout: 120_000 }, async () => {
  const a = await infra();
  const f = await failingSink();
  const failing = f.sink;
  const healthy = await startSink();
  cleanup.push(() => healthy.close());
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('breaker'), partitions: 2 },
    sources: [{ name: 's' }],
    destinations: [
      { name: 'failing', url: failing.url, retry: { schedule: [0, 200, 200, 200, 200] }, breaker: { consecutiveFailures: 3, cooldownMs: 1000 } },
      { name: 'healthy', url: healthy.url },
    ],
  });
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  await deliverers(a, config);
  await feeder.send(Array.from({ length: 40 }, (_, i) => [delivery('failing', i), delivery('healthy', i)]).flat());
  await healthy.waitFor(40, 15_000);
  await sleep(4000); // the breaker is open; ~4 cooldowns pass
  const during = failing.requests.length;
  // Without the breaker: 40 events × 5 attempts within a second, then all dead-lettered
  // long before the outage ends. With it: the first attempts already in flight when it
  // opened (up to 40, sent side by side) and about one probe per cooldown.
  console.log(`breaker: ${during} requests to the failing destination during the outage`);
  assert.ok(during <= 40 + 8, `requests to the failing destination while down: ${during}`);
  f.down = false;
  await expectEachHeldOnce(failing, 40, 30_000);
});

test('an operator\'s breaker reset releases the held deliveries within seconds, not at the end of a long cooldown', { timeout: 120_000 }, async () => {
  const a = await infra();
  const f = await failingSink();
  const failing = f.sink;
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('breaker-reset'), partitions: 2 },
    sources: [{ name: 's' }],
    destinations: [{ name: 'failing', url: failing.url, retry: { schedule: [0, 200, 200, 200, 200] }, breaker: { consecutiveFailures: 3, cooldownMs: 600_000 } }],
  });
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  await deliverers(a, config, 2);
  // Three fail and open the breaker (their retries are parked, held); twenty more wait at
  // the breaker without an attempt.
  await feeder.send([0, 1, 2].map((i) => delivery('failing', i)));
  const status = async () => JSON.parse((await cli(a, config, ['destination', 'status', 'failing', '--json'])).lines[0]!)[0];
  for (let i = 0; i < 100 && (await status()).breaker?.state !== 'open'; i++) await sleep(100);
  assert.equal((await status()).breaker?.state, 'open');
  await feeder.send(Array.from({ length: 20 }, (_, i) => delivery('failing', 100 + i)));
  await sleep(2000);
  const during = failing.requests.length;
  f.down = false;
  const reset = await cli(a, config, ['destination', 'reset-breaker', 'failing']);
  assert.equal(reset.code, 0, reset.notes.join('\n'));
  const t0 = Date.now();
  await failing.waitFor(20, 10_000);
  const waiting = Date.now() - t0;
  // The parked retries come back within their 30 s re-park, not after the 600 s cooldown.
  await expectEachHeldOnce(failing, 23, 45_000);
  console.log(`breaker reset: the 20 waiting deliveries sent within ${waiting} ms of the reset, the 3 parked retries within ${Date.now() - t0} ms (cooldown 600 s); ${during} requests while open`);
  assert.ok(during <= 3 * 1 + 2, `requests while open: ${during}`);
});

test('a held destination keeps a few records in memory to probe with; the rest wait in Kafka', { timeout: 120_000 }, async () => {
  const a = await infra();
  const f = await failingSink();
  const failing = f.sink;
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('held'), partitions: 2 },
    sources: [{ name: 's' }],
    deliverer: { concurrencyPerPartition: 4 },
    destinations: [{ name: 'failing', url: failing.url, retry: { schedule: [0, 200, 200, 200, 200] }, breaker: { consecutiveFailures: 3, cooldownMs: 1000 } }],
  });
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  const [d] = await deliverers(a, config);
  const pending = async () => {
    const m = (await d!.metrics.getMetricsAsJSON()).find((x) => x.name === 'hookyard_deliverer_pending');
    return m?.values.find((v) => v.labels.destination === 'failing')?.value ?? 0;
  };
  await feeder.send(Array.from({ length: 10 }, (_, i) => delivery('failing', i)));
  for (let i = 0; i < 150 && failing.requests.length < 3; i++) await sleep(100); // 3 failures: the breaker opens
  await sleep(500);
  await feeder.send(Array.from({ length: 2000 }, (_, i) => delivery('failing', 10 + i)));
  let most = 0;
  for (let i = 0; i < 12; i++) { most = Math.max(most, await pending()); await sleep(250); }
  // Before: every fetched record waited in memory, up to maxPendingPerPartition (2,000) per
  // partition. Now: what was taken before the breaker opened (10) and 4 per partition.
  console.log(`held destination: at most ${most} records pending in memory with 2,010 waiting`);
  assert.ok(most <= 10 + 2 * 4 + 2, `pending while held: ${most}`);
  f.down = false;
  await expectEachHeldOnce(failing, 2010, 60_000);
});

test('rate limit: 20/s across three replicas, measured at the sink in every 1 s window', { timeout: 120_000 }, async () => {
  const a = await infra();
  const sink = await startSink();
  cleanup.push(() => sink.close());
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('rate'), partitions: 6 },
    sources: [{ name: 's' }],
    destinations: [{ name: 'limited', url: sink.url, rateLimit: { perSecond: 20 } }],
  });
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  await deliverers(a, config, 3);
  await feeder.send(Array.from({ length: 120 }, (_, i) => delivery('limited', i)));
  await sink.waitFor(120, 30_000);
  const t0 = sink.received[0]!.at;
  const perWindow = new Map<number, number>();
  for (const r of sink.received) perWindow.set(Math.floor((r.at - t0) / 1000), (perWindow.get(Math.floor((r.at - t0) / 1000)) ?? 0) + 1);
  // Sliding windows too: every run of 21 consecutive arrivals spans at least ~1 s.
  const at = sink.received.map((r) => r.at).sort((x, y) => x - y);
  let tightest = Infinity;
  for (let i = 20; i < at.length; i++) tightest = Math.min(tightest, at[i]! - at[i - 20]!);
  console.log(`rate limit: per 1 s window ${[...perWindow.values()].join(', ')}; 21 arrivals span at least ${tightest} ms`);
  for (const [w, n] of perWindow) assert.ok(n <= 20, `window ${w}: ${n} deliveries`);
  assert.ok(tightest >= 980, `21 deliveries within ${tightest} ms`);
  const seconds = (at.at(-1)! - at[0]!) / 1000;
  assert.ok(seconds >= 5.5, `120 deliveries at 20/s take about 6 s (${seconds})`);
});

test('pause during a run, restart every service, resume: nothing delivered while paused, nothing lost', { timeout: 120_000 }, async () => {
  const a = await infra();
  const sink = await startSink();
  cleanup.push(() => sink.close());
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('pause'), partitions: 2 },
    sources: [{ name: 's' }],
    destinations: [{ name: 'p', url: sink.url, retry: { schedule: [0, 300, 300] } }],
  });
  sink.respond = (n) => (n % 7 === 3 ? 503 : 200); // some retries wait in the tier topics
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  let [d] = await deliverers(a, config);
  await feeder.send(Array.from({ length: 30 }, (_, i) => delivery('p', i)));
  await sink.waitFor(10, 15_000);
  const paused = await cli(a, config, ['destination', 'pause', 'p', '--reason', 'maintenance']);
  assert.equal(paused.code, 0, paused.notes.join('\n'));
  assert.match(paused.lines[0]!, /p {2}PAUSED \(operator: maintenance\)/);
  await sleep(1500); // in-flight attempts finish
  const atPause = sink.requests.length;
  await feeder.send(Array.from({ length: 30 }, (_, i) => delivery('p', 30 + i)));
  await d!.close();
  [d] = await deliverers(a, config); // every process restarted (and the state re-read)
  await sleep(3000);
  assert.equal(sink.requests.length, atPause, 'nothing delivered while paused, across a restart');
  const status = await cli(a, config, ['destination', 'status', 'p', '--json']);
  const st = JSON.parse(status.lines[0]!)[0];
  assert.equal(st.paused, true);
  assert.ok(st.pending >= 30, `pending ${st.pending}`);
  assert.ok(st.oldestPendingAgeSeconds >= 3, `oldest pending ${st.oldestPendingAgeSeconds} s`);
  const resumed = await cli(a, config, ['destination', 'resume', 'p']);
  assert.equal(resumed.code, 0);
  const deadline = Date.now() + 30_000;
  while (new Set(ids(sink.received)).size < 60 && Date.now() < deadline) await sleep(100);
  assert.equal(new Set(ids(sink.received)).size, 60, 'all 60 delivered after resume');
  assert.equal(ids(sink.received).length, 60, 'each once');
});

test('a 410 Gone pauses its destination', { timeout: 60_000 }, async () => {
  const a = await infra();
  const sink = await startSink();
  cleanup.push(() => sink.close());
  sink.respond = 410;
  const config = testConfig({ kafka: { topicPrefix: uniquePrefix('gone'), partitions: 1 }, sources: [{ name: 's' }], destinations: [{ name: 'g', url: sink.url }] });
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  await deliverers(a, config);
  await feeder.send([delivery('g', 1)]);
  await sink.waitFor(0);
  const deadline = Date.now() + 15_000;
  let st = { paused: false, pausedBy: null as string | null };
  while (!st.paused && Date.now() < deadline) {
    await sleep(300);
    st = JSON.parse((await cli(a, config, ['destination', 'status', 'g', '--json'])).lines[0]!)[0];
  }
  assert.deepEqual([st.paused, st.pausedBy], [true, 'deliverer']);
  await feeder.send([delivery('g', 2), delivery('g', 3)]);
  await sleep(2000);
  assert.equal(sink.requests.length, 1, 'nothing more is sent to a destination that said 410');
});

test('maxConcurrency 1 across two replicas: requests to the destination never overlap', { timeout: 60_000 }, async () => {
  const a = await infra();
  const sink = await startSink();
  cleanup.push(() => sink.close());
  let inFlight = 0;
  let peak = 0;
  sink.respond = () => {
    peak = Math.max(peak, ++inFlight);
    setTimeout(() => { inFlight--; }, 30);
    return { status: 200, delayMs: 30 };
  };
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('serial'), partitions: 4 },
    sources: [{ name: 's' }],
    destinations: [{ name: 'serial', url: sink.url, rateLimit: { maxConcurrency: 1 } }],
  });
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  await deliverers(a, config, 2);
  await feeder.send(Array.from({ length: 40 }, (_, i) => delivery('serial', i)));
  await sink.waitFor(40, 30_000);
  assert.equal(peak, 1, `at most one request at a time (saw ${peak})`);
  const at = sink.received.map((r) => r.at).sort((x, y) => x - y);
  assert.ok(at.at(-1)! - at[0]! >= 39 * 30 * 0.9, 'serial: 40 × 30 ms');
});
