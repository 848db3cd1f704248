// kafkajs's default partitioner (Java-compatible murmur2) computed with 32-bit integer
// arithmetic instead of kafkajs's 64-bit Long objects: the same partition for every key
// (test/packages/core/kafkajs/partitioner.test.ts compares the two over many keys), at a
// fraction of the cost. Why: with a 1 KiB webhook, hashing its key through Long, plus
// filtering the partition list for every message, was ~5 % of ingress's CPU.
// Keyless messages and messages with an explicit partition are left to kafkajs's own
// partitioner, so their behaviour (round robin over partitions with a leader) is kafkajs's.
//
// Also here: kafkajs groups a batch's messages by partition by copying the partition's
// array for every message (quadratic in the batch); the grouping is replaced by a linear
// one with the same result. kafkajs takes that function when its producer module loads,
// so this module must load first: it does not import kafkajs's entry point, and kafka.ts
// imports it before kafkajs (`groupingInstalled` says whether it was in time).
import { Module, createRequire } from 'node:module';
import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

const require = createRequire(import.meta.url);
const kafkajsDefaultPartitioner = require('kafkajs/src/producer/partitioners/default/index.js') as ICustomPartitioner;
const GROUP_MODULE = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
const SEND_MESSAGES_MODULE = require.resolve('kafkajs/src/producer/sendMessages.js');

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
// A UTF-16 code unit takes at most 3 bytes in UTF-8: a key this short always fits.
const scratch = Buffer.allocUnsafe(3 * 256);

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils#murmur2) over bytes, as a signed 32-bit int. */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2]! << 16;
    // falls through
    case 2:
      h ^= data[tail + 1]! << 8;
    // falls through
    case 1:
      h ^= data[tail]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** murmur2 of a message key as kafkajs hashes it: a Buffer as is, anything else as the UTF-8 of String(key). */
export function murmur2Key(key: Buffer | string): number {
  if (Buffer.isBuffer(key)) return murmur2(key);
  const s = String(key);
  if (s.length <= 256) return murmur2(scratch, scratch.write(s));
  return murmur2(Buffer.from(s));
}

/** A drop-in for kafkajs's `Partitioners.DefaultPartitioner`. */
export const fastDefaultPartitioner: ICustomPartitioner = () => {
  const theirs = kafkajsDefaultPartitioner();
  return (args: PartitionerArgs) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key === null || message.key === undefined) return theirs(args);
    return (murmur2Key(message.key) & 0x7fffffff) % partitionMetadata.length;
  };
};

interface GroupArgs<M> {
  topic: string;
  partitionMetadata: PartitionerArgs['partitionMetadata'];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: PartitionerArgs['partitionMetadata']; message: M }) => number;
}
type Group = <M>(args: GroupArgs<M>) => Record<number, M[]>;

/** kafkajs's groupMessagesPerPartition, linear: the same object, keys and arrays in the same order. */
export function groupMessagesPerPartition<M>({ topic, partitionMetadata, messages, partitioner }: GroupArgs<M>): Record<number, M[]> {
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

const GROUP = Symbol.for('hookyard.kafkajs-grouping');
const loadedGroup = require.cache[GROUP_MODULE]?.exports as (Group & { [GROUP]?: Group }) | undefined;
/** kafkajs's own grouping (kept for the tests). */
export const kafkajsGroupMessagesPerPartition: Group = loadedGroup?.[GROUP] ?? loadedGroup ?? (require(GROUP_MODULE) as Group);
/** Whether kafkajs's producer groups with the linear function (false when kafkajs was loaded before this module). */
export let groupingInstalled = loadedGroup?.[GROUP] !== undefined;
if (!groupingInstalled && !require.cache[SEND_MESSAGES_MODULE]) {
  const ours = Object.assign(groupMessagesPerPartition as Group, { [GROUP]: kafkajsGroupMessagesPerPartition });
  const m = require.cache[GROUP_MODULE] ?? new Module(GROUP_MODULE);
  m.exports = ours;
  require.cache[GROUP_MODULE] = m;
  groupingInstalled = true;
}
