// hookyard dlq list | redrive against real Kafka with the deliverer running: dead letters
// are listed with their last error, and redriven ones are delivered once the destination
// has recovered.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicNames } from '@hookyard/core';
import { buildDeliverer } from '../../../../services/deliverer/src/app.ts';
import { cli } from '../../../support/cli.ts';
import { deliveryFeeder, delivery } from '../../../support/feeder.ts';
import { infra, uniquePrefix } from '../../../support/infra.ts';
import { endOffsets } from '../../../support/raw-events.ts';
import { startSink } from '../../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../../support/stack.ts';
import { eventId } from '@hookyard/core';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

test('dlq: list the dead letters, redrive them after the destination recovers', { timeout: 120_000 }, async () => {
  const a = await infra();
  const down = await startSink();
  const fine = await startSink();
  cleanup.push(() => down.close(), () => fine.close());
  down.respond = 500;
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('dlq'), partitions: 1 },
    sources: [{ name: 's' }],
    destinations: [{ name: 'down', url: down.url, retry: { schedule: [0, 50] }, breaker: { cooldownMs: 300 } }, { name: 'fine', url: fine.url, retry: { schedule: [0] } }],
  });
  const feeder = await deliveryFeeder(a, config);
  cleanup.push(() => feeder.close());
  const deliverer = buildDeliverer({ config, env: runtimeFor(a), log: quietLog });
  await deliverer.start();
  cleanup.push(() => deliverer.close());
  const ids = [0, 1, 2].map(() => eventId());
  fine.respond = 400; // a terminal answer: dead at once
  await feeder.send([...ids.map((id, i) => delivery('down', i, { eventId: id })), delivery('fine', 9, { eventId: eventId() })]);
  const deadline = Date.now() + 30_000;
  let list = await cli(a, config, ['dlq', 'list', '--json']);
  while (list.lines.length < 4 && Date.now() < deadline) {
    await sleep(300);
    list = await cli(a, config, ['dlq', 'list', '--json']);
  }
  assert.equal(list.code, 0, list.notes.join('\n'));
  const dead = list.lines.map((l) => JSON.parse(l));
  assert.equal(dead.length, 4);
  const downDead = dead.filter((d) => d.destination === 'down');
  assert.deepEqual(downDead.map((d) => d.eventId).sort(), [...ids].sort());
  for (const d of downDead) assert.deepEqual([d.stage, d.attempts, d.lastStatus], ['delivery', 2, 500]);
  assert.match(dead.find((d) => d.destination === 'fine').lastError, /400/);

  const text = await cli(a, config, ['dlq', 'list', '--destination', 'down']);
  assert.equal(text.lines.length, 3);
  assert.match(text.lines[0]!, /→ down {2}delivery {2}attempts 2 {2}status 500/);
  assert.match(text.notes.at(-1)!, /^3 dead letter\(s\) of 4 scanned/);

  const topic = topicNames(config.kafka.topicPrefix).delivery('down');
  const ends = await endOffsets(a, topic);
  const dry = await cli(a, config, ['dlq', 'redrive', '--destination', 'down', '--dry-run']);
  assert.equal(dry.code, 0);
  assert.match(dry.lines[0]!, /would redrive 3, skipped 0, of 3 matched/);
  assert.equal(await endOffsets(a, topic), ends);

  down.respond = 200; // recovered
  const before = down.requests.length;
  const one = await cli(a, config, ['dlq', 'redrive', '--event-id', ids[0]!, '--json']);
  assert.equal(one.code, 0, one.notes.join('\n'));
  assert.equal(JSON.parse(one.lines[0]!).redriven, 1);
  const rest = await cli(a, config, ['dlq', 'redrive', '--destination', 'down', '--from', '1h']);
  assert.equal(rest.code, 0, rest.notes.join('\n'));
  assert.match(rest.lines[0]!, /redriven 3/);
  await down.waitFor(3, 30_000);
  await sleep(1000);
  const delivered = down.received.map((r) => r.headers['x-hookyard-event-id']);
  assert.deepEqual([...new Set(delivered)].sort(), [...ids].sort(), 'every dead letter delivered');
  assert.equal(down.requests.length - before, 3, `each once: the second redrive of ${ids[0]} is deduplicated`);

  const bad = await cli(a, config, ['dlq', 'redrive', '--destination', 'nope']);
  assert.equal(bad.code, 2);
  const badAction = await cli(a, config, ['dlq', 'purge']);
  assert.equal(badAction.code, 2);
  assert.match(badAction.notes[0]!, /expected "list" or "redrive"/);
});
