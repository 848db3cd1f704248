// The fast partitioner must send every key where kafkajs's default (Java-compatible)
// partitioner sends it: compared over many keys, and through a real broker.
// @hookyard/core is imported before kafkajs, as in the services: the grouping is replaced
// only when it is loaded first.
import { fastDefaultPartitioner, groupingInstalled, groupMessagesPerPartition, kafkajsGroupMessagesPerPartition, murmur2 } from '@hookyard/core';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes, randomInt } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { freshTopic } from '../../../support/topics.ts';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

const meta = (n: number): PartitionMetadata[] => Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

function randomKey(): string | Buffer {
  switch (randomInt(0, 5)) {
    case 0: return randomBytes(randomInt(0, 80));
    case 1: return `cus_${randomInt(0, 1e12)}`;
    case 2: return String.fromCodePoint(...Array.from({ length: randomInt(0, 40) }, () => randomInt(0, 0x10ffff + 1)).filter((c) => c < 0xd800 || c > 0xdfff));
    case 3: return 'ü🔑\ud800'.repeat(randomInt(0, 120)); // multi-byte, a lone surrogate, past the scratch buffer
    default: return 'k'.repeat(randomInt(0, 600));
  }
}

test('murmur2 gives kafkajs\'s hash (and Kafka\'s published one) for every key', () => {
  // From Kafka's UtilsTest#testMurmur2 (the Java client's own vectors).
  const vectors: [string, number][] = [['21', -973932308], ['foobar', -790332482], ['a-little-bit-long-string', -985981536], ['a-little-bit-longer-string', -1486304829], ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971]];
  for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, key);
  for (let i = 0; i < 20_000; i++) {
    const key = Buffer.isBuffer(randomKey()) ? randomBytes(randomInt(0, 200)) : Buffer.from(String(randomKey()));
    assert.equal(murmur2(key), kafkajsMurmur2(key));
  }
});

test('every key goes to the partition kafkajs\'s default partitioner chooses; explicit partitions are kept', () => {
  const ours = fastDefaultPartitioner();
  const theirs = Partitioners.DefaultPartitioner();
  for (let i = 0; i < 20_000; i++) {
    const partitionMetadata = meta(randomInt(1, 130));
    const message = { key: randomKey(), value: null };
    assert.equal(ours({ topic: 't', partitionMetadata, message }), theirs({ topic: 't', partitionMetadata, message }), `key ${String(message.key)}`);
  }
  assert.equal(ours({ topic: 't', partitionMetadata: meta(6), message: { key: 'k', value: null, partition: 4 } }), 4);
  // Keyless messages are kafkajs's round robin over partitions with a leader.
  const leaders = meta(6).map((p) => ({ ...p, leader: p.partitionId % 2 === 0 ? 0 : -1 }));
  const seen = new Set(Array.from({ length: 50 }, () => ours({ topic: 't', partitionMetadata: leaders, message: { value: 'x' } })));
  assert.deepEqual([...seen].sort(), [0, 2, 4]);
});

test('messages are grouped per partition as kafkajs groups them, in linear time, and kafkajs\'s producer uses it', () => {
  assert.ok(groupingInstalled, 'installed: @hookyard/core was loaded before kafkajs');
  const sendMessagesGroup = require('kafkajs/src/producer/groupMessagesPerPartition.js') as unknown;
  assert.equal(sendMessagesGroup, groupMessagesPerPartition, 'kafkajs\'s module now exports the linear one');
  // Deterministic (the default's round robin for keyless messages would differ between two calls).
  const fast = fastDefaultPartitioner();
  const partitioner = (a: { topic: string; partitionMetadata: PartitionMetadata[]; message: { key: string | null; value: string; partition?: number } }) =>
    a.message.key === null ? a.message.value.length % a.partitionMetadata.length : fast(a);
  for (let i = 0; i < 500; i++) {
    const partitionMetadata = meta(randomInt(0, 12)); // 0: no metadata yet
    const messages = Array.from({ length: randomInt(0, 200) }, (_, n) => ({ key: randomInt(0, 4) === 0 ? null : String(randomKey()), value: `v${n}`, ...(n % 17 === 3 ? { partition: randomInt(0, 12) } : {}) }));
    const args = { topic: 't', partitionMetadata, messages, partitioner };
    const ours = groupMessagesPerPartition(args);
    const theirs = kafkajsGroupMessagesPerPartition(args);
    assert.deepEqual(Object.keys(ours), Object.keys(theirs));
    assert.deepEqual(ours, theirs);
  }
  // Linear: 20,000 messages to one partition; kafkajs's copies the array per message (~2·10^8 element copies).
  const many = Array.from({ length: 20_000 }, (_, n) => ({ key: 'same', value: `v${n}` }));
  const t0 = performance.now();
  const grouped = groupMessagesPerPartition({ topic: 't', partitionMetadata: meta(3), messages: many, partitioner });
  assert.deepEqual(Object.values(grouped).map((l) => l.length), [20_000]);
  assert.ok(performance.now() - t0 < 500, `grouped 20,000 messages in ${(performance.now() - t0).toFixed(0)} ms`);
});

test('through createKafka\'s producers, a real broker holds each key in the partition kafkajs\'s partitioner chooses', async () => {
  const { kafka, topic } = await freshTopic('partitioner', 'keys', 7);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const keys = Array.from({ length: 200 }, () => String(randomKey()));
  const acks = await producer.send({ topic, acks: -1, messages: keys.map((key) => ({ key, value: key })) });
  await producer.disconnect();
  const theirs = Partitioners.DefaultPartitioner();
  const expected = new Map<number, number>();
  for (const key of keys) {
    const p = theirs({ topic, partitionMetadata: meta(7), message: { key, value: null } });
    expected.set(p, (expected.get(p) ?? 0) + 1);
  }
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  assert.ok(acks.length > 0);
  const got = new Map(offsets.filter((o) => Number(o.high) > 0).map((o) => [o.partition, Number(o.high)]));
  assert.deepEqual(got, expected);
});
