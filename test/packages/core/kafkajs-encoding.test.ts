// The kafkajs encoding speed-ups must write exactly kafkajs's bytes: compared here with
// kafkajs's own functions over edge values and whole produce requests, and a real broker
// (which checks every batch's CRC) must accept what they write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes, randomInt } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { createKafka, ensureTopics, parseConfig } from '@hookyard/core';
import { Encoder, original, kafkajsCrc32c, type KafkajsEncoder } from '../../../packages/core/src/kafkajs-encoding.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { quietLog } from '../../support/stack.ts';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): object; fromString(s: string): object };
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (o: object) => { encode(): Promise<KafkajsEncoder> };
const jsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

/** Runs fn with kafkajs's own encoder functions in place of ours. */
async function withOriginals<T>(fn: () => T | Promise<T>): Promise<T> {
  const proto = Encoder.prototype;
  const ours = { ensureAvailable: proto.ensureAvailable, writeUVarInt: proto.writeUVarInt, writeVarLong: proto.writeVarLong, sizeOfVarLong: Encoder.sizeOfVarLong };
  Object.assign(proto, { ensureAvailable: original.ensureAvailable, writeUVarInt: original.writeUVarInt, writeVarLong: original.writeVarLong });
  Encoder.sizeOfVarLong = original.sizeOfVarLong;
  try {
    return await fn();
  } finally {
    Object.assign(proto, { ensureAvailable: ours.ensureAvailable, writeUVarInt: ours.writeUVarInt, writeVarLong: ours.writeVarLong });
    Encoder.sizeOfVarLong = ours.sizeOfVarLong;
  }
}

const edges = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, 2 ** 14, 2 ** 21 - 1, 2 ** 21, 2 ** 28, 2 ** 30 - 1, -(2 ** 30) + 1, 2 ** 30, -(2 ** 30), 2 ** 31 - 1, -(2 ** 31)];

test('varints, varlongs and their sizes are byte-identical to kafkajs\'s', async () => {
  const ints = [...edges, ...Array.from({ length: 2000 }, () => randomInt(-(2 ** 31), 2 ** 31 - 1))];
  const longs: unknown[] = [...edges, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, Date.now(), -Date.now(),
    Long.fromValue(5), Long.fromString('-9223372036854775808'), Long.fromString('9223372036854775807'),
    ...Array.from({ length: 2000 }, () => randomInt(-(2 ** 46), 2 ** 46))];
  const encodeAll = () => {
    const e = new Encoder(1); // tiny, so the buffer grows again and again
    for (const v of ints) (e as unknown as { writeVarInt(v: number): void }).writeVarInt(v);
    for (const v of ints) e.writeUVarInt(v >>> 0);
    for (const v of longs) e.writeVarLong(v as number);
    return { bytes: Buffer.from(e.buffer), sizes: longs.map((v) => Encoder.sizeOfVarLong(v as number)) };
  };
  const ours = encodeAll();
  const theirs = await withOriginals(encodeAll);
  assert.ok(Encoder.prototype.writeVarLong !== original.writeVarLong, 'the speed-ups are installed');
  assert.deepEqual(ours.sizes, theirs.sizes);
  assert.ok(ours.bytes.equals(theirs.bytes), 'same bytes');
});

test('produce requests (many records, random sizes, keys, headers and timestamps) are byte-identical to kafkajs\'s', async () => {
  // Dirty the buffer pool first: a byte left unwritten by the speed-ups would show as garbage.
  for (let i = 0; i < 100; i++) Buffer.allocUnsafe(2048).fill(0xaa);
  const now = Date.now();
  const topicData = [0, 1].map((t) => ({
    topic: `t${t}`,
    partitions: [0, 1, 2].map((partition) => ({
      partition, firstSequence: randomInt(0, 1000),
      messages: Array.from({ length: randomInt(1, 60) }, (_, i) => ({
        key: i % 3 === 0 ? null : `key-${randomInt(0, 1e9)}`,
        value: randomBytes(randomInt(0, 5000)),
        timestamp: String(now + randomInt(-5000, 5000)),
        headers: i % 4 === 0 ? { 'x-a': 'b', 'x-long': 'v'.repeat(randomInt(0, 300)) } : {},
      })),
    })),
  }));
  const req = { acks: -1, timeout: 30000, producerId: Long.fromValue(42), producerEpoch: 1, topicData };
  const ours = Buffer.from((await produceRequest(req).encode()).buffer);
  const theirs = await withOriginals(async () => Buffer.from((await produceRequest(req).encode()).buffer));
  assert.ok(ours.length > 10_000);
  assert.ok(ours.equals(theirs), 'same bytes');
});

test('the native CRC-32C agrees with kafkajs\'s JavaScript one', () => {
  assert.equal(kafkajsCrc32c, 'native', 'a prebuilt @node-rs/crc32 binary exists for this platform');
  const crc = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
  assert.equal(crc(Buffer.from('123456789')), 0xe3069283); // the standard check value of CRC-32C
  for (let i = 0; i < 500; i++) {
    const b = randomBytes(randomInt(0, 20_000));
    assert.equal(crc(b), jsCrc32c(b) >>> 0);
  }
});

test('a real broker accepts what the speed-ups write (it checks every batch CRC) and gives back the same records', async () => {
  const a = await infra();
  const topic = `${uniquePrefix('encoding')}records`;
  const kafka = createKafka(a.KAFKA_BROKERS.split(','), 'encoding-test', quietLog);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, parseConfig('sources: [{ name: x }]', {}).kafka, [topic]);
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const sent = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 7}`, value: randomBytes(randomInt(0, 4000)), timestamp: String(Date.now() - randomInt(0, 100_000)) }));
  for (let i = 0; i < sent.length; i += 100) await producer.send({ topic, acks: -1, messages: sent.slice(i, i + 100) });
  await producer.disconnect();

  const reader = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).consumer({ groupId: `${topic}-reader` });
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  const got = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${got.size} of ${sent.length}`)), 30_000);
    void reader.run({
      eachMessage: async ({ message }) => {
        got.set(message.value!.toString('hex'), message.value!);
        if (got.size === sent.length) { clearTimeout(timer); resolve(); }
      },
    });
  });
  await reader.disconnect();
  for (const s of sent) assert.ok(got.has(s.value.toString('hex')), 'every record came back intact');
});
