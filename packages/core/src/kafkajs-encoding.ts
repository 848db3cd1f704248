// Speed-ups to kafkajs 2.2.4's produce-request encoding (the last release; the project is
// unmaintained). Each replaces one internal function with one that writes the same bytes
// (test/packages/core/kafkajs-encoding.test.ts compares them with kafkajs's own). Why:
// building produce requests was the largest share of ingress's CPU that bare fastify does
// not have (profile in BENCHMARKS.md), and most of it was allocation, not encoding:
//   - every record batch's CRC-32C computed in JavaScript a byte at a time → @node-rs/crc32
//     (native, SSE 4.2), where a prebuilt binary exists for the platform;
//   - every growth of an encoder's buffer zero-filled a fresh ArrayBuffer (Buffer.alloc),
//     and a 1 KiB record grows its encoder and is then copied into three more → allocUnsafe
//     (pooled for small sizes; only bytes written are ever read: `buffer` ends at `offset`);
//   - every varint allocated a Buffer from an array; every varlong (each record's
//     timestamp delta) went through 64-bit Long arithmetic → written in place, with Long
//     kept for values beyond 30 bits.
import { Module, createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const CRC_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
const BATCH_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/v0/index.js');

/** The part of kafkajs's internal Encoder this module replaces. */
export interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
  writeUVarInt(value: number): KafkajsEncoder;
  writeVarInt(value: number): KafkajsEncoder;
  writeVarLong(value: number | object): KafkajsEncoder;
  readonly buffer: Buffer;
}
interface EncoderClass {
  new (initialSize?: number): KafkajsEncoder;
  nextPowerOfTwo(value: number): number;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: number | object): number;
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
    if (this.offset + length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
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
