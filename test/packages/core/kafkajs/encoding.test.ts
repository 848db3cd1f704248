// The kafkajs encoding speed-ups must write exactly kafkajs's bytes: compared here with
// kafkajs's own functions over edge values and whole produce requests, and a real broker
// (which checks every batch's CRC) must accept what they write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes, randomInt } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Encoder, original, kafkajsCrc32c, produce, records, type KafkajsEncoder, type RecordArgs } from '../../../../packages/core/src/kafkajs/encoding.ts';
import { freshTopic } from '../../../support/topics.ts';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): object; fromString(s: string): object };
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (o: object) => { encode(): Promise<KafkajsEncoder> };
const jsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

/** Runs fn with kafkajs's own encoder functions in place of ours. */
async function withOriginals<T>(fn: () => T | Promise<T>): Promise<T> {
  const proto = Encoder.prototype;
  const ours = { ensureAvailable: proto.ensureAvailable, writeUVarInt: proto.writeUVarInt, writeVarLong: proto.writeVarLong, sizeOfVarLong: Encoder.sizeOfVarLong, record: records.encode };
  Object.assign(proto, { ensureAvailable: original.ensureAvailable, writeUVarInt: original.writeUVarInt, writeVarLong: original.writeVarLong });
  Encoder.sizeOfVarLong = original.sizeOfVarLong;
  records.encode = records.original;
  produce.fast = false;
  try {
    return await fn();
  } finally {
    Object.assign(proto, { ensureAvailable: ours.ensureAvailable, writeUVarInt: ours.writeUVarInt, writeVarLong: ours.writeVarLong });
    Encoder.sizeOfVarLong = ours.sizeOfVarLong;
    records.encode = ours.record;
    produce.fast = true;
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

test('produce requests (many records, random sizes, keys, headers and timestamps) are byte-identical to kafkajs\'s', async (t) => {
  // Dirty the buffer pool first: a byte left unwritten by the speed-ups would show as garbage.
  for (let i = 0; i < 100; i++) Buffer.allocUnsafe(2048).fill(0xaa);
  // Messages without a timestamp take Date.now(): the same for both encoders.
  const now = Date.now();
  t.mock.method(Date, 'now', () => now);
  assert.ok(produce.installed, 'kafkajs\'s produce requests are encoded by the one-pass encoder');
  const topicData = () => [0, 1].map((tp) => ({
    topic: `t${tp}-${'ü'.repeat(tp)}`,
    partitions: [0, 1, 2].map((partition) => ({
      partition, firstSequence: randomInt(0, 1000),
      messages: Array.from({ length: randomInt(1, 60) }, (_, i) => ({
        key: i % 3 === 0 ? null : i % 5 === 0 ? Buffer.from(`bk-${i}`) : `key-${randomInt(0, 1e9)}`,
        value: i % 7 === 0 ? null : randomBytes(randomInt(0, 5000)),
        ...(i % 6 === 5 ? {} : { timestamp: String(now + randomInt(-5000, 5000)) }),
        headers: i % 4 === 0 ? { 'x-a': 'b', 'x-long': 'v'.repeat(randomInt(0, 300)) } : {},
      })),
    })),
  }));
  const variants = [
    { acks: -1, timeout: 30000, producerId: Long.fromValue(42), producerEpoch: 1, topicData: topicData() },
    { acks: 1, timeout: 5000, topicData: topicData() }, // defaults: no producer id, epoch 0
    { acks: -1, timeout: 30000, transactionalId: 'tx-1', producerId: Long.fromValue(7), producerEpoch: 3, topicData: topicData() },
    { acks: -1, timeout: 30000, producerId: Long.fromValue(9), producerEpoch: 0, topicData: [{ topic: 'numeric-ts', partitions: [{ partition: 4, firstSequence: 0, messages: [{ key: 'a', value: Buffer.from('x'), timestamp: now + 5 }, { key: 'b', value: Buffer.from('y'), timestamp: now }] }] }] },
    { acks: -1, timeout: 30000, compression: 1, topicData: topicData() }, // gzip: left to kafkajs
  ];
  for (const req of variants) {
    const ours = Buffer.from((await produceRequest(req).encode()).buffer);
    const theirs = await withOriginals(async () => Buffer.from((await produceRequest(req).encode()).buffer));
    if (req.topicData.length === 2) assert.ok(ours.length > 1000);
    assert.ok(ours.equals(theirs), `same bytes (${JSON.stringify({ ...req, topicData: undefined })})`);
  }
});

test('records are byte-identical to kafkajs\'s, whatever their key, value, deltas and headers', async () => {
  for (let i = 0; i < 100; i++) Buffer.allocUnsafe(2048).fill(0xaa); // a byte left unwritten would show
  const keys = [null, undefined, '', 'k', 'clé-ünïcødé-🔑', '\ud800 lone', 'x'.repeat(300), Buffer.alloc(0), randomBytes(40)];
  const values = [null, undefined, '', 'text value', Buffer.alloc(0), randomBytes(1024), randomBytes(70_000)];
  const deltas = [0, 1, -1, 2 ** 20, 2 ** 30, -(2 ** 31), 2 ** 40, Long.fromValue(7), Long.fromString('-9223372036854775808')];
  const headerSets: (Record<string, unknown> | undefined)[] = [undefined, {}, { 'x-a': 'b' }, { 'x-many': ['1', '2'], 'x-buf': Buffer.from('v') }];
  const cases: RecordArgs[] = [{ key: 'only-key' } as RecordArgs];
  for (const key of keys) for (const value of values) cases.push({ key, value, offsetDelta: randomInt(0, 100_000), timestampDelta: deltas[randomInt(0, deltas.length)] as number });
  for (const timestampDelta of deltas) for (const headers of headerSets) cases.push({ key: 'k', value: randomBytes(100), offsetDelta: 3, timestampDelta: timestampDelta as number, ...(headers ? { headers } : {}) });
  assert.ok(records.installed, 'kafkajs calls the fast record encoder');
  assert.notEqual(records.encode, records.original);
  for (const c of cases) {
    const ours = records.encode(c).buffer;
    const theirs = await withOriginals(() => records.original(c).buffer);
    assert.ok(ours.equals(theirs), `same bytes for ${JSON.stringify(c).slice(0, 120)}`);
  }
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
  const { kafka, topic, brokers } = await freshTopic('encoding', 'records');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // Each value starts with its index: two random values may otherwise be equal (two empty ones).
  const sent = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 7}`, value: Buffer.concat([Buffer.from(`${i}:`), randomBytes(randomInt(0, 4000))]), timestamp: String(Date.now() - randomInt(0, 100_000)) }));
  for (let i = 0; i < sent.length; i += 100) await producer.send({ topic, acks: -1, messages: sent.slice(i, i + 100) });
  await producer.disconnect();

  const reader = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).consumer({ groupId: `${topic}-reader` });
  const got = new Map<string, Buffer>();
  const perPartition = new Map<number, number>();
  // A consumer left running would keep this file's process alive after a failure.
  try {
    await reader.connect();
    await reader.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${got.size} of ${sent.length} (per partition ${JSON.stringify([...perPartition])})`)), 60_000);
      reader.run({
        eachMessage: async ({ partition, message }) => {
          got.set(message.value!.toString('hex'), message.value!);
          perPartition.set(partition, (perPartition.get(partition) ?? 0) + 1);
          if (got.size === sent.length) { clearTimeout(timer); resolve(); }
        },
      }).catch(reject);
    });
  } finally {
    await reader.disconnect();
  }
  for (const s of sent) assert.ok(got.has(s.value.toString('hex')), 'every record came back intact');
});
