// Scenario 6: one destination down (connections refused) for two minutes, one answering
// after 30 s, one answering 500 at random — beside two healthy ones. The healthy ones
// keep their latency; every event reaches every destination once, after recovery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { infra } from '../support/infra.ts';
import { Pipeline, report, sleep } from './support/pipeline.ts';

const DOWN_MS = Number(process.env.FAULT_DOWN_MS ?? 120_000);

test('a destination down for minutes, one slow (30 s), one failing at random: others unaffected, all delivered once', { timeout: 900_000 }, async () => {
  const p = new Pipeline({
    scenario: 'destinations',
    addrs: await infra(),
    destinations: [
      { name: 'all', ordering: 'unordered' },
      { name: 'keyed', ordering: 'per-key' },
      { name: 'down', ordering: 'unordered' },
      // The first 96 events only: at 30 s an answer, 48 attempts in flight (3 partitions × 16) carry 1.6 events/s.
      { name: 'slow', ordering: 'unordered', timeoutMs: 40_000, filter: { rule: { body: { n: { $lt: 96 } } }, accepts: (a) => a.n < 96 } },
      { name: 'flaky', ordering: 'unordered' },
    ],
  });
  try {
    await p.setUp();
    p.sinks.get('slow')!.behaviour = () => ({ status: 200, delayMs: 30_000 });
    p.sinks.get('flaky')!.behaviour = () => (Math.random() < 0.3 ? 500 : 200);
    const load = p.startLoad({ events: 6_000, rate: 200 });
    // The fault starts once the healthy destinations are receiving (consumers joined,
    // producers initialised): a cold start's first seconds are not the fault's doing.
    const warm = Date.now() + 60_000;
    const ok = (d: string) => p.sinks.get(d)!.entries.filter((e) => e.status < 300).length;
    while ((ok('all') < 200 || ok('keyed') < 200) && Date.now() < warm) await sleep(100);
    assert.ok(Date.now() < warm, 'healthy destinations receiving within 60 s');
    p.fault(`destination "down" refuses connections for ${DOWN_MS / 1000} s`);
    const from = Date.now();
    await p.sinks.get('down')!.down();
    await sleep(DOWN_MS);
    await p.sinks.get('down')!.up();
    p.heal();
    const to = Date.now();
    await load.done;
    const complete = await p.waitDelivered(300_000);
    // Recovery here: from the destination's return to its last held event delivered.
    const downDone = Math.max(...p.sinks.get('down')!.entries.filter((e) => e.status < 300).map((e) => e.at));
    const r = { ...p.result({ from, to }), recoverMs: downDone - to };
    // Measured over the events accepted while the fault lasted.
    // ('slow' takes only the first 96 events, all accepted before the outage.)
    const lat = Object.fromEntries(['all', 'keyed', 'flaky', 'slow', 'down'].map((d) => [d, p.latency(d, d === 'slow' ? 0 : from)]));
    report({ ...r, notes: `delivery latency ms of events accepted during the outage (ingress answer → destination 2xx): ${Object.entries(lat).map(([d, l]) => `${d} p50 ${l.p50} p99 ${l.p99}`).join('; ')}; keyed p99 per 5 s: ${p.latencySeries('keyed', from)}` });
    assert.ok(complete, `not all delivered: lost ${r.lost}`);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicates, 0);
    assert.equal(r.orderViolations, 0);
    // Healthy destinations do not wait for the broken ones. Their p99 is ~100 ms on a loaded
    // 2-core machine, but the per-key one shows a spike of ~1 s in the first seconds of the
    // outage (see RELIABILITY.md, not yet explained): the bound is 2 s.
    for (const d of ['all', 'keyed']) assert.ok(lat[d]!.p99 < 2000, `${d} p99 ${lat[d]!.p99} ms`);
  } finally {
    await p.tearDown();
  }
});
