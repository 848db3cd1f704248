// Speed-ups to kafkajs 2.2.4's produce-request encoding (the last release; the project is
// unmaintained). Each replaces one internal function with one that writes the same bytes
// (test/packages/core/kafkajs/encoding.test.ts compares them with kafkajs's own). Why:
// building produce requests was the largest share of ingress's CPU that bare fastify does
// not have (profile in BENCHMARKS.md), and most of it was allocation, not encoding:
//   - every record batch's CRC-32C computed in JavaScript a byte at a time → @node-rs/crc32
//     (native, SSE 4.2), where a prebuilt binary exists for the platform;
//   - every growth of an encoder's buffer zero-filled a fresh ArrayBuffer (Buffer.alloc),
//     and a 1 KiB record grows its encoder and is then copied into three more → allocUnsafe
//     (pooled for small sizes; only bytes written are ever read: `buffer` ends at `offset`);
//   - every varint allocated a Buffer from an array; every varlong (each record's
//     timestamp delta) went through 64-bit Long arithmetic → written in place, with Long
//     kept for values beyond 30 bits;
//   - every record began in a fresh zero-filled 512-byte encoder, grown and copied for a
//     1 KiB record → a record without headers is written by kafkajs's own encoder methods
//     into a buffer of its exact size, taken from the pool (records with headers are left
//     to kafkajs);
//   - a produce request was built in seven nested encoders, each growing by doubling and
//     copying everything below it: ~0.5 MB of fresh buffers for 37 KB of records, and the
//     garbage collector was a fifth of the producing CPU → the request body (uncompressed
//     batches) is sized first and written once, by kafkajs's own encoder methods, into one
//     buffer; an encoder that must grow for a large write grows to the size it needs.
import { Module, createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const CRC_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
const BATCH_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/v0/index.js');
const RECORD_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');
const PRODUCE_MODULE = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');

/** The part of kafkajs's internal Encoder this module replaces. */
export interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
  writeUVarInt(value: number): KafkajsEncoder;
  writeVarInt(value: number): KafkajsEncoder;
  writeVarLong(value: number | object): KafkajsEncoder;
  writeInt8(value: number): KafkajsEncoder;
  writeVarIntBytes(value: Buffer | string | null): KafkajsEncoder;
  writeInt16(value: number): KafkajsEncoder;
  writeInt32(value: number): KafkajsEncoder;
  writeUInt32(value: number): KafkajsEncoder;
  writeInt64(value: number | string | object): KafkajsEncoder;
  writeString(value: string | null): KafkajsEncoder;
  writeBufferInternal(value: Buffer): void;
  readonly buffer: Buffer;
}
interface EncoderClass {
  new (initialSize?: number): KafkajsEncoder;
  nextPowerOfTwo(value: number): number;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: number | object): number;
  sizeOfVarIntBytes(value: Buffer | string | null | undefined): number;
  prototype: KafkajsEncoder;
}
export const Encoder = require('kafkajs/src/protocol/encoder.js') as EncoderClass;

const PATCHED = Symbol.for('hookyard.kafkajs-encoding');
const MORE = 0x80; // varint continuation bit
const LOW7 = 0x7f;
// Below 2^30 in magnitude, a value's 64-bit zig-zag encoding is its 32-bit one: kafkajs's
// own varint functions write and size it, without Long.
const SMALL = 0x40000000;
const isSmall = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > -SMALL && v < SMALL;

interface Originals {
  ensureAvailable: KafkajsEncoder['ensureAvailable'];
  writeUVarInt: KafkajsEncoder['writeUVarInt'];
  writeVarLong: KafkajsEncoder['writeVarLong'];
  sizeOfVarLong: EncoderClass['sizeOfVarLong'];
}
// Kept on the class itself, so a second copy of this module finds kafkajs's, not the first copy's.
const saved = (Encoder as unknown as Record<symbol, Originals | undefined>)[PATCHED];
/** kafkajs's own implementations, kept for values outside the fast paths and for the tests. */
export const original: Originals = saved ?? {
  ensureAvailable: Encoder.prototype.ensureAvailable,
  writeUVarInt: Encoder.prototype.writeUVarInt,
  writeVarLong: Encoder.prototype.writeVarLong,
  sizeOfVarLong: Encoder.sizeOfVarLong,
};

if (!saved) {
  Object.defineProperty(Encoder, PATCHED, { value: original });
  Encoder.prototype.ensureAvailable = function (this: KafkajsEncoder, length: number) {
    const needed = this.offset + length;
    if (needed > this.buf.length) {
      // Doubling amortises many small writes; one large write (an encoder written into a
      // fresh one, as every layer of a request does) gets what it needs, not the next power of two.
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.buf.length));
      this.buf.copy(grown, 0, 0, this.offset);
      this.buf = grown;
    }
  };
  Encoder.prototype.writeUVarInt = function (this: KafkajsEncoder, value: number) {
    this.ensureAvailable(5); // a 32-bit value takes at most 5 bytes
    const buf = this.buf;
    let at = this.offset;
    while ((value & ~LOW7) !== 0) {
      buf[at++] = (value & LOW7) | MORE;
      value >>>= 7;
    }
    buf[at++] = value & LOW7;
    this.offset = at;
    return this;
  };
  Encoder.prototype.writeVarLong = function (this: KafkajsEncoder, value: number | object) {
    return isSmall(value) ? this.writeVarInt(value) : original.writeVarLong.call(this, value);
  };
  Encoder.sizeOfVarLong = function (value: number | object) {
    return isSmall(value) ? Encoder.sizeOfVarInt(value) : original.sizeOfVarLong.call(Encoder, value);
  };
}

function loadNativeCrc(): ((input: Buffer) => number) | undefined {
  try {
    return (require('@node-rs/crc32') as { crc32c(input: Buffer, initial?: number): number }).crc32c;
  } catch {
    return undefined;
  }
}

/** 'native' when record batches are checksummed by @node-rs/crc32, 'javascript' otherwise. */
export let kafkajsCrc32c: 'native' | 'javascript' = 'javascript';

// The batch encoder takes its CRC function once, when kafkajs first loads it (lazily, at
// the first produce): the native one goes into the module cache in its place before that.
const NATIVE = Symbol.for('hookyard.kafkajs-native-crc32c');
type Crc = ((buffer: Buffer) => number) & { [NATIVE]?: true };
const nativeCrc = loadNativeCrc();
if ((require.cache[CRC_MODULE]?.exports as Crc | undefined)?.[NATIVE]) {
  kafkajsCrc32c = 'native'; // another copy of this module got here first
} else if (nativeCrc && !require.cache[BATCH_MODULE]) {
  // kafkajs's function returns the CRC as an unsigned 32-bit number; so does this.
  const crc: Crc = (buffer: Buffer) => nativeCrc(buffer) >>> 0;
  crc[NATIVE] = true;
  const m = new Module(CRC_MODULE);
  m.filename = CRC_MODULE;
  m.loaded = true;
  m.exports = crc;
  require.cache[CRC_MODULE] = m;
  kafkajsCrc32c = 'native';
}

/** The arguments kafkajs's produce request passes to its record encoder (record/v0). */
export interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number | object;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Record<string, unknown>;
}
type RecordEncoder = (args: RecordArgs) => KafkajsEncoder;

function hasOwnKeys(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

/** The size of a record without headers after its length prefix (record/v0's layout). */
function sizeOfHeaderless(timestampDelta: number | object, offsetDelta: number, key: RecordArgs['key'], value: RecordArgs['value']): number {
  return 1 + // attributes
    Encoder.sizeOfVarLong(timestampDelta) + Encoder.sizeOfVarInt(offsetDelta) +
    Encoder.sizeOfVarIntBytes(key) + Encoder.sizeOfVarIntBytes(value) +
    1; // an empty header array: varint 0
}

/** Writes a record without headers, its length prefix first, as record/v0 does. */
function writeHeaderless(e: KafkajsEncoder, sizeOfBody: number, timestampDelta: number | object, offsetDelta: number, key: RecordArgs['key'], value: RecordArgs['value']): KafkajsEncoder {
  return e.writeVarInt(sizeOfBody)
    .writeInt8(0) // no record attributes
    .writeVarLong(timestampDelta)
    .writeVarInt(offsetDelta)
    .writeVarIntBytes(key ?? null)
    .writeVarIntBytes(value ?? null)
    .writeVarInt(0); // no headers
}

function fastRecord(args: RecordArgs): KafkajsEncoder {
  const { offsetDelta = 0, timestampDelta = 0, key, value, headers } = args;
  if (headers !== undefined && (headers === null || hasOwnKeys(headers))) return records.original(args);
  const sizeOfBody = sizeOfHeaderless(timestampDelta, offsetDelta, key, value);
  const e = new Encoder(0); // a 1-byte buffer, replaced at once by one of the exact size
  e.buf = Buffer.allocUnsafe(Encoder.sizeOfVarInt(sizeOfBody) + sizeOfBody);
  return writeHeaderless(e, sizeOfBody, timestampDelta, offsetDelta, key, value);
}

// The produce request takes its record encoder once, when kafkajs first loads it (lazily,
// at the first produce): a function calling `records.encode` goes into the module's
// exports before that, so tests can swap kafkajs's own back in to compare.
const RECORD = Symbol.for('hookyard.kafkajs-record-encoder');
interface Records { encode: RecordEncoder; original: RecordEncoder; installed: boolean }
type Installed = RecordEncoder & { [RECORD]?: Records };
const loaded = require.cache[RECORD_MODULE]?.exports as Installed | undefined;
/** The record encoder in use (`encode`), kafkajs's own (`original`), and whether kafkajs calls ours. */
export const records: Records = loaded?.[RECORD] ?? { encode: fastRecord, original: require(RECORD_MODULE) as RecordEncoder, installed: false };
if (!records.installed && !require.cache[PRODUCE_MODULE]) {
  const installed: Installed = (args) => records.encode(args);
  installed[RECORD] = records;
  require.cache[RECORD_MODULE]!.exports = installed;
  records.installed = true;
}

/** The arguments kafkajs's producer passes to its produce request (requests/produce/v3, used by v3–v7). */
export interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: number | string | object;
  producerEpoch?: number;
  compression?: number;
  topicData: {
    topic: string;
    partitions: { partition: number; firstSequence?: number; messages: (RecordArgs & { timestamp?: string | number | null })[] }[];
  }[];
}
interface ProduceRequest { apiKey: number; apiVersion: number; encode(): Promise<KafkajsEncoder> }

const STRING_NULL = 2; // an int16 -1
const sizeOfString = (s: string | null): number => (s == null ? STRING_NULL : 2 + Buffer.byteLength(s, 'utf8'));
// attributes, lastOffsetDelta, firstTimestamp, maxTimestamp, producerId, producerEpoch, firstSequence, record count
const BATCH_BODY_FIXED = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
const TRANSACTIONAL = 16; // record batch attribute bit

interface PartitionPlan {
  partition: number;
  firstSequence: number;
  first: string | number;
  max: string | number;
  /** Each record's timestamp delta, computed once when sizing. */
  deltas: number[];
  batchSize: number;
  /** A record's body size (written here), or its bytes from kafkajs's encoder (records with headers). */
  records: (number | Buffer)[];
}

/** The CRC function kafkajs's batch encoder uses (looked up once: require() is not free). */
let batchCrc: ((b: Buffer) => number) | undefined;

/**
 * The body of a produce request, as kafkajs's v3 encoder writes it (same steps, same
 * defaults: see requests/produce/v3/request.js and recordBatch/v0), for uncompressed
 * batches; null for compressed ones, which kafkajs encodes.
 */
export function encodeProduceRequest(a: ProduceArgs): KafkajsEncoder | null {
  if ((a.compression ?? 0) !== 0) return null;
  const transactionalId = a.transactionalId ?? null;
  const producerId = a.producerId ?? -1;
  const producerEpoch = a.producerEpoch ?? 0;
  let total = sizeOfString(transactionalId) + 2 + 4 + 4;
  const plans: PartitionPlan[][] = [];
  for (const t of a.topicData) {
    total += sizeOfString(t.topic) + 4;
    const partitions: PartitionPlan[] = [];
    for (const p of t.partitions) {
      const { messages } = p;
      const dateNow = Date.now();
      // kafkajs sorts the timestamps as it finds them (strings sort as strings).
      const stamps = messages.map((m) => m.timestamp).filter((ts) => ts != null).sort();
      const first = stamps.length === 0 ? dateNow : stamps[0]!;
      const max = stamps.length === 0 ? dateNow : stamps[stamps.length - 1]!;
      const sized: (number | Buffer)[] = [];
      const deltas: number[] = [];
      let recordBytes = 0;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        const timestampDelta = ((m.timestamp || dateNow) as number) - (first as number);
        deltas.push(timestampDelta);
        if (m.headers != null && hasOwnKeys(m.headers)) {
          const bytes = records.original({ ...m, offsetDelta: i, timestampDelta }).buffer;
          sized.push(bytes);
          recordBytes += bytes.length;
        } else {
          const body = sizeOfHeaderless(timestampDelta, i, m.key, m.value);
          sized.push(body);
          recordBytes += Encoder.sizeOfVarInt(body) + body;
        }
      }
      // partitionLeaderEpoch, magic, crc, then the body
      const batchSize = 4 + 1 + 4 + BATCH_BODY_FIXED + recordBytes;
      // partition, record set size, firstOffset, batch length, batch
      total += 4 + 4 + 8 + 4 + batchSize;
      partitions.push({ partition: p.partition, firstSequence: p.firstSequence ?? 0, first, max, deltas, batchSize, records: sized });
    }
    plans.push(partitions);
  }

  const crc32C = batchCrc ??= require(CRC_MODULE) as (b: Buffer) => number;
  const e = new Encoder(0);
  e.buf = Buffer.allocUnsafe(total);
  e.writeString(transactionalId).writeInt16(a.acks).writeInt32(a.timeout).writeInt32(a.topicData.length);
  a.topicData.forEach((t, ti) => {
    e.writeString(t.topic).writeInt32(t.partitions.length);
    t.partitions.forEach((p, pi) => {
      const plan = plans[ti]![pi]!;
      e.writeInt32(plan.partition)
        .writeInt32(8 + 4 + plan.batchSize)
        .writeInt64(0) // firstOffset
        .writeInt32(plan.batchSize)
        .writeInt32(0) // partitionLeaderEpoch
        .writeInt8(2); // magic
      const crcAt = e.offset;
      e.writeUInt32(0);
      const bodyAt = e.offset;
      e.writeInt16(transactionalId ? TRANSACTIONAL : 0)
        .writeInt32(plan.records.length - 1)
        .writeInt64(plan.first)
        .writeInt64(plan.max)
        .writeInt64(producerId)
        .writeInt16(producerEpoch)
        .writeInt32(plan.firstSequence)
        .writeInt32(plan.records.length);
      plan.records.forEach((r, i) => {
        if (typeof r !== 'number') {
          e.writeBufferInternal(r);
          return;
        }
        const m = p.messages[i]!;
        writeHeaderless(e, r, plan.deltas[i]!, i, m.key, m.value);
      });
      e.buf.writeUInt32BE(crc32C(e.buf.subarray(bodyAt, e.offset)), crcAt);
    });
  });
  return e;
}

// The produce request module is loaded lazily too (requests v4–v7 build on v3's). Its
// request objects keep kafkajs's api key and version; only `encode` is ours, and it hands
// compressed batches back to kafkajs's own.
const PRODUCE = Symbol.for('hookyard.kafkajs-produce-encoder');
type ProduceFactory = ((args: ProduceArgs) => ProduceRequest) & { [PRODUCE]?: Produce };
interface Produce { fast: boolean; installed: boolean; original: (args: ProduceArgs) => ProduceRequest }
const loadedProduce = require.cache[PRODUCE_MODULE]?.exports as ProduceFactory | undefined;
/** Whether kafkajs's produce requests are encoded here (`installed`), and a switch for tests (`fast`). */
export const produce: Produce = loadedProduce?.[PRODUCE] ?? { fast: true, installed: false, original: loadedProduce ?? (require(PRODUCE_MODULE) as (args: ProduceArgs) => ProduceRequest) };
if (!produce.installed && !loadedProduce) {
  const factory: ProduceFactory = (args) => {
    const req = produce.original(args);
    const theirs = req.encode;
    req.encode = async () => (produce.fast ? encodeProduceRequest(args) : null) ?? theirs();
    return req;
  };
  factory[PRODUCE] = produce;
  require.cache[PRODUCE_MODULE]!.exports = factory;
  produce.installed = true;
}
