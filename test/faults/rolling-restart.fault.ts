// Scenario 2: rolling SIGTERM restarts of every service during a run. A graceful stop
// finishes what it started (ingress answers its requests, the router commits its
// transaction, the deliverer drains and marks), so there are no duplicates at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { infra } from '../support/infra.ts';
import { Pipeline, report, sleep, type ServiceName } from './support/pipeline.ts';

test('rolling SIGTERM restarts of every service: nothing lost, no duplicates', { timeout: 600_000 }, async () => {
  const p = new Pipeline({ scenario: 'rolling-sigterm', addrs: await infra() });
  try {
    await p.setUp();
    const load = p.startLoad({ events: 10_000, rate: 200 });
    const from = Date.now();
    for (const name of ['ingress', 'router', 'deliverer', 'ingress', 'router', 'deliverer'] as ServiceName[]) {
      await sleep(3000 + Math.random() * 3000);
      await p.restart(name, 'SIGTERM');
    }
    const to = Date.now();
    await load.done;
    const complete = await p.waitDelivered(180_000);
    const r = p.result({ from, to });
    report(r);
    assert.ok(complete, `not all delivered: lost ${r.lost}`);
    assert.equal(r.lost, 0);
    assert.equal(r.orderViolations, 0);
    assert.equal(r.duplicates, 0);
    assert.equal(r.answers.other, 0);
  } finally {
    await p.tearDown();
  }
});
