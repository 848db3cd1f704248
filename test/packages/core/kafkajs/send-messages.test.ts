// A leader dies mid-send and its partition moves to a broker that already answered: kafkajs's
// own sendMessages resolves without ever writing that partition (kafkajs #1303); the fixed
// one sends it to the new leader. Fakes for the cluster and brokers (pure logic); the real
// case is the cluster-broker fault scenario (a broker of three killed -9 under load).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import '../../../../packages/core/src/kafka.ts';
import { createSendMessages, sendPerPartition } from '../../../../packages/core/src/kafkajs/send-messages.ts';

const require = createRequire(import.meta.url);
// kafkajs's own, loaded past the patched module in the cache.
const SEND = require.resolve('kafkajs/src/producer/sendMessages.js');
const patched = require.cache[SEND];
delete require.cache[SEND];
const kafkajsSendMessages = require(SEND);
require.cache[SEND] = patched;
const createRetry = require('kafkajs/src/retry/index.js');
const { KafkaJSConnectionClosedError } = require('kafkajs/src/errors.js');

function world() {
  // p0 led by broker 1, p1 by broker 2; broker 2 dies on its first produce and p1 moves to 1.
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  const written: { broker: number; partition: number; values: string[] }[] = [];
  const broker = (nodeId: number) => ({
    nodeId,
    async produce({ topicData }: any) {
      if (nodeId === 2) throw new KafkaJSConnectionClosedError('Closed connection', { host: 'b2', port: 2 });
      for (const t of topicData) for (const p of t.partitions) written.push({ broker: nodeId, partition: p.partition, values: p.messages.map((m: any) => m.value) });
      return { topics: topicData.map((t: any) => ({ topicName: t.topic, partitions: t.partitions.map((p: any) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })) })) };
    },
  });
  const brokers = new Map([[1, broker(1)], [2, broker(2)]]);
  const cluster = {
    targetTopics: new Set(),
    async refreshMetadataIfNecessary() {},
    async refreshMetadata() { leaders[1] = 1; },
    async addMultipleTargetTopics() {},
    isConnected: () => true,
    removeBroker() {},
    async connect() {},
    findTopicPartitionMetadata: () => [0, 1].map((partitionId) => ({ partitionId, leader: leaders[partitionId] })),
    findLeaderForPartitions: (_t: string, partitions: string[]) => partitions.reduce((r: Record<number, number[]>, p) => {
      const l = leaders[Number(p)]!;
      (r[l] ??= []).push(Number(p));
      return r;
    }, {}),
    findBroker: async ({ nodeId }: { nodeId: number | string }) => brokers.get(Number(nodeId)),
  };
  const seq = new Map<string, number>();
  const eosManager = {
    isTransactional: () => false, acquireBrokerLock: async () => {}, releaseBrokerLock: async () => {},
    getSequence: (t: string, p: number) => seq.get(`${t}${p}`) ?? 0,
    updateSequence: (t: string, p: number, n: number) => seq.set(`${t}${p}`, (seq.get(`${t}${p}`) ?? 0) + n),
    getProducerId: () => 1, getProducerEpoch: () => 0, getTransactionalId: () => undefined,
  };
  const logger = { debug() {}, error() {}, info() {}, warn() {} };
  const partitioner = ({ message }: any) => Number(message.key);
  const retrier = createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 });
  const args = { acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages: [{ key: '0', value: 'a' }, { key: '1', value: 'b' }] }] };
  return { deps: { logger, cluster, partitioner, eosManager, retrier }, args, written };
}

test('kafkajs\'s own send reports success without writing the partition that moved', async () => {
  const w = world();
  await kafkajsSendMessages(w.deps)(w.args);
  assert.deepEqual(w.written.map((x) => x.values).flat(), ['a'], 'b was never written: the bug this patch fixes');
});

test('the fixed send writes the moved partition to its new leader, once', async () => {
  assert.equal(sendPerPartition, true, 'installed before kafkajs loaded its producer');
  const w = world();
  const res = await createSendMessages(w.deps)(w.args);
  assert.deepEqual(w.written.map((x) => [x.broker, x.partition, x.values]), [[1, 0, ['a']], [1, 1, ['b']]]);
  assert.deepEqual(res.map((r: any) => r.partition).sort(), [0, 1]);
});
