// hookyard rewind against real Kafka: refuses an active or unknown group, --dry-run
// changes nothing, and a stopped group is moved to the first offset at or after the time.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopics } from '@hookyard/core';
import { cli } from '../../../support/cli.ts';
import { infra, uniquePrefix } from '../../../support/infra.ts';
import { testConfig } from '../../../support/stack.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

test('rewind: active group refused, dry run, stopped group moved partition by partition', { timeout: 120_000 }, async () => {
  const a = await infra();
  const prefix = uniquePrefix('rewind');
  const config = testConfig({ kafka: { topicPrefix: prefix, partitions: 2 }, sources: [{ name: 's' }] });
  const topic = `${prefix}things`;
  const group = `${prefix}consumers`;
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  cleanup.push(() => admin.disconnect());
  await ensureTopics(admin, config.kafka, [topic]);
  const T0 = Date.now() - 600_000;
  const producer = kafka.producer();
  await producer.connect();
  // Ten records per partition, one a second from T0.
  await producer.send({ topic, messages: [0, 1].flatMap((partition) => Array.from({ length: 10 }, (_, i) => ({ partition, value: `${partition}-${i}`, timestamp: String(T0 + i * 1000) }))) });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: group });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await consumer.run({ eachMessage: async () => { seen++; } });
  while (seen < 20) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 6000)); // an auto-commit interval (5 s) passes

  const active = await cli(a, config, ['rewind', '--group', group, '--to', new Date(T0 + 4000).toISOString()]);
  assert.equal(active.code, 2);
  assert.match(active.notes[0]!, /is active .*stop its consumers first — nothing changed/);
  await consumer.disconnect();

  const committed = async () => (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions.map((p) => Number(p.offset)).sort();
  assert.deepEqual(await committed(), [10, 10]);

  const dry = await cli(a, config, ['rewind', '--group', group, '--to', new Date(T0 + 4000).toISOString(), '--dry-run']);
  assert.equal(dry.code, 0, dry.notes.join('\n'));
  assert.match(dry.lines.join('\n'), /\[0\] {2}10 → 4 {2}\(6 to read again\)/);
  assert.match(dry.lines.at(-1)!, /dry run — nothing changed.*2 partition\(s\), 12 record\(s\) to read again/);
  assert.deepEqual(await committed(), [10, 10], 'dry run changed nothing');

  // 4.5 s: the first record at or after it is the one at 5 s.
  const real = await cli(a, config, ['rewind', '--group', group, '--to', new Date(T0 + 4500).toISOString(), '--json']);
  assert.equal(real.code, 0, real.notes.join('\n'));
  assert.deepEqual(JSON.parse(real.lines[0]!).moves.map((m: { to: number }) => m.to), [5, 5]);
  assert.deepEqual(await committed(), [5, 5]);

  const unknown = await cli(a, config, ['rewind', '--group', `${prefix}nobody`, '--to', '1h']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.notes[0]!, /unknown consumer group/);
  const badTime = await cli(a, config, ['rewind', '--group', group, '--to', 'soon']);
  assert.equal(badTime.code, 2);
  assert.deepEqual(await committed(), [5, 5]);
});
