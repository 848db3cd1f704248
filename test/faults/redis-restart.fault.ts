// Scenario 5: Redis killed -9 and started again empty (no persistence) while retries are
// waiting and edge-dedup and delivered marks exist. Redis holds no only copy of anything:
// nothing is lost; what its loss costs is duplicates, counted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { infra } from '../support/infra.ts';
import { kill, stackOptions, start, status } from '../../scripts/infra/local-stack.ts';
import { Pipeline, report, sleep } from './support/pipeline.ts';

test('Redis killed and restarted empty while retries wait: nothing lost, duplicates counted', { timeout: 600_000 }, async (t) => {
  const o = stackOptions();
  if ((await status(o)).redis?.pid === undefined) { t.skip('needs the local stack (scripts/infra) to kill its Redis'); return; }
  const p = new Pipeline({ scenario: 'redis-restart', addrs: await infra() });
  try {
    await p.setUp();
    // A tenth of events (spread over every key) fail their first attempt, so retries are
    // always waiting in the retry topics (and, for per-key, in the deliverer) when Redis goes.
    for (const sink of p.sinks.values()) {
      const tries = new Map<number, number>();
      sink.behaviour = (n) => {
        const k = (tries.get(n) ?? 0) + 1;
        tries.set(n, k);
        return (Math.imul(n, 2654435761) >>> 0) % 10 === 0 && k === 1 ? 503 : 200;
      };
    }
    const load = p.startLoad({ events: 9_000, rate: 200 });
    await sleep(15_000);
    p.fault('kill -9 Redis (down 5 s, back empty)');
    const from = Date.now();
    await kill(o, 'redis');
    await sleep(5_000);
    await start(o, 'redis');
    p.heal();
    const to = Date.now();
    await load.done;
    const complete = await p.waitDelivered(240_000);
    const r = p.result({ from, to });
    report({ ...r, notes: 'duplicates: marks and claims lost with Redis (at-least-once while it is down or empty, by design)' });
    assert.ok(complete, `not all delivered: lost ${r.lost}`);
    assert.equal(r.lost, 0);
    assert.equal(r.orderViolations, 0);
    assert.equal(r.answers.other, 0);
  } finally {
    await p.tearDown();
  }
});
