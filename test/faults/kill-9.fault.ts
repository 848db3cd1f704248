// Scenario 1: kill -9 of ingress, router and deliverer, each several times at random
// moments, while events flow. Nothing accepted is lost; per-key order holds; duplicates
// are counted with their reason (a kill between a destination's 2xx and the deliverer's
// mark, or between Kafka's ack and ingress's answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { infra } from '../support/infra.ts';
import { Pipeline, report, sleep, type ServiceName } from './support/pipeline.ts';

test('kill -9 of every service, several times each, during a run: nothing lost, order kept', { timeout: 600_000 }, async () => {
  const p = new Pipeline({ scenario: 'kill-9', addrs: await infra() });
  try {
    await p.setUp();
    const load = p.startLoad({ events: 12_000, rate: 200 });
    const order: ServiceName[] = ['deliverer', 'ingress', 'router', 'ingress', 'deliverer', 'router', 'deliverer', 'ingress'];
    const from = Date.now();
    for (const name of order) {
      await sleep(3000 + Math.random() * 4000);
      await p.restart(name, 'SIGKILL');
    }
    const to = Date.now();
    await load.done;
    const complete = await p.waitDelivered(180_000);
    const r = p.result({ from, to });
    report({ ...r, notes: 'duplicates: redelivered = deliverer killed between the 2xx and its Redis mark; recaptured = ingress killed between the Kafka ack and its answer (the provider re-sent)' });
    assert.ok(complete, `not all delivered: lost ${r.lost}`);
    assert.equal(r.lost, 0);
    assert.equal(r.orderViolations, 0);
    assert.equal(r.answers.other, 0, 'ingress never refuses a valid request');
  } finally {
    await p.tearDown();
  }
});
