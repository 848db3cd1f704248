// hookyard replay against real Kafka, Redis and the registry, with the router and the
// deliverer running: window boundaries, dedup, --force, --dry-run, --no-route, selection
// by source and id, and wrong input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicNames, type Config, type RawEvent } from '@hookyard/core';
import { buildDeliverer } from '../../../../services/deliverer/src/app.ts';
import { buildRouter } from '../../../../services/router/src/app.ts';
import { cli } from '../../../support/cli.ts';
import { infra, uniquePrefix } from '../../../support/infra.ts';
import { endOffsets, rawEvent, writeRawEvents } from '../../../support/raw-events.ts';
import { startSink, type Sink } from '../../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../../support/stack.ts';

describe('hookyard replay', () => {
  let a: Awaited<ReturnType<typeof infra>>;
  let config: Config;
  let sinkA: Sink;
  let sinkB: Sink;
  const events: RawEvent[] = [];
  const T0 = Date.now() - 3_600_000; // an hour ago, one event per second
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

  const n = (r: { body: Buffer }) => (JSON.parse(r.body.toString()) as { n: number }).n;
  const deliveryEnds = async () => (await endOffsets(a, topicNames(config.kafka.topicPrefix).delivery('a'))) + (await endOffsets(a, topicNames(config.kafka.topicPrefix).delivery('b')));

  before(async () => {
    a = await infra();
    sinkA = await startSink();
    sinkB = await startSink();
    cleanup.push(() => sinkA.close(), () => sinkB.close());
    config = testConfig({
      kafka: { topicPrefix: uniquePrefix('replay'), partitions: 2 },
      sources: [{ name: 's' }, { name: 'other' }],
      destinations: [{ name: 'a', url: sinkA.url }, { name: 'b', url: sinkB.url }],
      connections: [
        { source: 's', destination: 'a' },
        { source: 's', destination: 'b', filter: { body: { n: { $gte: 5 } } }, transform: '{"n": body.n, "via": "b"}' },
        { source: 'other', destination: 'a' },
      ],
    });
    for (let i = 0; i < 10; i++) events.push(rawEvent('s', T0 + i * 1000, { n: i }));
    events.push(rawEvent('other', T0 + 3000, { n: 100 }));
    await writeRawEvents(a, config, events);
    for (const svc of [buildRouter({ config, env: runtimeFor(a), log: quietLog }), buildDeliverer({ config, env: runtimeFor(a), log: quietLog })]) {
      await svc.start();
      cleanup.push(() => svc.close());
    }
    await sinkA.waitFor(11, 60_000);
    await sinkB.waitFor(5, 30_000);
  });

  test('a window [from, to) replays exactly its events; already delivered ones are skipped and counted', async () => {
    const before = sinkA.requests.length + sinkB.requests.length;
    const r = await cli(a, config, ['replay', '--from', new Date(T0 + 2000).toISOString(), '--to', new Date(T0 + 6000).toISOString(), '--json']);
    assert.equal(r.code, 0, r.notes.join('\n'));
    const s = JSON.parse(r.lines[0]!);
    // Events 2, 3, 4, 5 of s (the one at --to, 6, is out) and other's event at T0+3000.
    assert.equal(s.matched, 5);
    assert.equal(s.deliveries, 6, 'a gets 5, b gets event 5 only (filter n >= 5)');
    assert.equal(s.filtered, 3);
    assert.equal(s.skipped, 6);
    assert.equal(s.replayed, 0);
    await sleep(1500);
    assert.equal(sinkA.requests.length + sinkB.requests.length, before, 'nothing re-sent');
  });

  test('--force re-sends them with the same webhook-id, through today\'s transform', async () => {
    const firstIds = new Map(sinkB.received.map((r) => [n(r), r.headers['webhook-id']]));
    const beforeA = sinkA.received.length;
    const beforeB = sinkB.received.length;
    const r = await cli(a, config, ['replay', '--from', new Date(T0 + 4000).toISOString(), '--to', new Date(T0 + 7000).toISOString(), '--source', 's', '--force']);
    assert.equal(r.code, 0, r.notes.join('\n'));
    assert.match(r.lines[0]!, /matched 3 events → 5 deliveries; replayed 5, skipped 0/);
    await sinkA.waitFor(beforeA + 3, 30_000);
    await sinkB.waitFor(beforeB + 2, 30_000);
    assert.deepEqual(sinkA.received.slice(beforeA).map(n).sort(), [4, 5, 6]);
    const again = sinkB.received.slice(beforeB);
    assert.deepEqual(again.map(n).sort(), [5, 6]);
    for (const req of again) {
      assert.equal(req.headers['webhook-id'], firstIds.get(n(req)), 'same webhook-id as the first delivery');
      assert.deepEqual(JSON.parse(req.body.toString()), { n: n(req), via: 'b' });
    }
  });

  test('--dry-run produces nothing and reports what it would do', async () => {
    const ends = await deliveryEnds();
    const r = await cli(a, config, ['replay', '--from', new Date(T0).toISOString(), '--to', new Date(T0 + 10_000).toISOString(), '--force', '--dry-run']);
    assert.equal(r.code, 0, r.notes.join('\n'));
    assert.match(r.lines[0]!, /^dry run — nothing produced\..*matched 11 events → 16 deliveries; would replay 16/);
    assert.equal(await deliveryEnds(), ends, 'topic end offsets unchanged');
  });

  test('--destination with --no-route sends the raw event as it arrived, to that destination only; --event-id selects', async () => {
    const target = events[1]!;
    const beforeB = sinkB.received.length;
    const r = await cli(a, config, ['replay', '--event-id', target.id, '--destination', 'b', '--no-route', '--force', '--json']);
    assert.equal(r.code, 0, r.notes.join('\n'));
    assert.deepEqual(JSON.parse(r.lines[0]!).replayed, 1);
    const [got] = (await sinkB.waitFor(beforeB + 1, 30_000)).slice(beforeB);
    assert.deepEqual(JSON.parse(got!.body.toString()), { n: 1 }, 'no filter, no transform');
    assert.equal(got!.headers['webhook-id'], `${target.id}.b`);
  });

  test('--rate paces the replay', async () => {
    const t0 = Date.now();
    const r = await cli(a, config, ['replay', '--from', new Date(T0).toISOString(), '--to', new Date(T0 + 10_000).toISOString(), '--destination', 'a', '--force', '--rate', '10/s']);
    assert.equal(r.code, 0, r.notes.join('\n'));
    assert.match(r.lines[0]!, /replayed 11/);
    assert.ok(Date.now() - t0 >= 900, `11 deliveries at 10/s take at least a second (${Date.now() - t0} ms)`);
  });

  test('wrong input: exit 2, a one-line reason, nothing produced', async () => {
    const ends = await deliveryEnds();
    const cases: [string[], RegExp][] = [
      [['replay', '--from', 'yesterday-ish'], /--from: "yesterday-ish" is not a time/],
      [['replay', '--from', '1h', '--to', '2h'], /--to .* must be after --from/],
      [['replay', '--from', '1h', '--destination', 'nope'], /unknown destination "nope"/],
      [['replay', '--from', '1h', '--source', 'nope'], /unknown source "nope"/],
      [['replay', '--to', 'now'], /--from is required/],
      [['replay', '--from', '1h', '--no-route'], /--no-route needs --destination/],
      [['replay', '--from', '1h', '--bogus'], /Unknown option '--bogus'/],
      [['replay', '--event-id', 'not-an-id'], /not a hookyard event id/],
    ];
    for (const [argv, reason] of cases) {
      const r = await cli(a, config, argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.notes.length, 1, `one line for ${argv.join(' ')}: ${r.notes.join(' | ')}`);
      assert.match(r.notes[0]!, reason);
      assert.deepEqual(r.lines, []);
    }
    assert.equal(await deliveryEnds(), ends);
  });
});
