// Scenario 3: the (single) Kafka broker killed -9 mid-run and started again 15 s later.
// While it is down ingress answers 503 with Retry-After, never 2xx for an event it could
// not persist; after recovery every event it acknowledged is in raw-events and delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { infra } from '../support/infra.ts';
import { kill, start, stackOptions, status } from '../../scripts/infra/local-stack.ts';
import { Pipeline, report, sleep } from './support/pipeline.ts';

test('Kafka broker killed and restarted mid-run: 503 while down, nothing acknowledged is lost', { timeout: 600_000 }, async (t) => {
  const o = stackOptions();
  if ((await status(o)).kafka?.pid === undefined) { t.skip('needs the local stack (scripts/infra) to kill its broker'); return; }
  const p = new Pipeline({ scenario: 'broker-restart', addrs: await infra() });
  try {
    await p.setUp();
    const load = p.startLoad({ events: 9_000, rate: 200 });
    await sleep(10_000);
    p.fault('kill -9 Kafka broker (down 15 s)');
    await kill(o, 'kafka');
    const downAt = Date.now();
    await sleep(15_000);
    const upAt = Date.now();
    await start(o, 'kafka');
    p.heal();
    await load.done;
    const complete = await p.waitDelivered(240_000);
    const r = p.result({ from: downAt, to: upAt });
    // Answers that left ingress while the broker was down; a 2xx among them must have
    // been acknowledged before the kill (it is then delivered, which `lost` checks).
    const ackedWhileDown = p.load!.accepted.filter((a) => a.at > downAt + 1000 && a.at < upAt).length;
    report({ ...r, notes: `2xx answered more than 1 s into the outage: ${ackedWhileDown}` });
    assert.ok(complete, `not all delivered: lost ${r.lost}`);
    assert.equal(r.lost, 0);
    assert.equal(r.orderViolations, 0);
    assert.equal(ackedWhileDown, 0, 'no 2xx while the broker is down');
    assert.ok(r.answers['503'] > 0, 'ingress answered 503 while the broker was down');
    assert.equal(r.answers.other, 0);
  } finally {
    await p.tearDown();
  }
});
