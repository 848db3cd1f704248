// Fix: kafkajs's producer could report a send as done while some of its records were never
// written — when a partition leader died mid-send on a cluster of several brokers.
//
// kafkajs's sendMessages keeps the responses of one send *per broker*, and on a retry sends
// only to brokers without a response yet. The partitions of a broker that failed (killed,
// connection closed) move to new leaders; when a new leader is a broker that had already
// answered for its own partitions, it is skipped, and the moved partitions' records are
// never sent again — yet the send resolves. A transactional producer (the router) then
// commits a transaction without them; an idempotent one (ingress) answers 202 for events
// not in Kafka. Found by the cluster-broker fault scenario (events in raw-events, never in
// deliveries.all, the router's transaction committed). Upstream: kafkajs #1303 ("Lossing
// data when one node of the cluster is lost", open).
//
// Here responses are kept per topic-partition: each try sends every partition still
// without a response to its current leader, whatever broker that is. Everything else —
// grouping by partitioner, transaction partitions, sequence numbers and their roll-back on
// a failed request, the retry policy — is kafkajs's, from its own modules.
import { Module, createRequire } from 'node:module';
// The linear grouping goes into kafkajs's module cache first (it installs only while
// sendMessages is not loaded, and this module loads one); it is looked up per producer.
import './partitioner.ts';

const require = createRequire(import.meta.url);
const SEND_MODULE = require.resolve('kafkajs/src/producer/sendMessages.js');
const PRODUCER_MODULE = require.resolve('kafkajs/src/producer/messageProducer.js');

/* eslint-disable @typescript-eslint/no-explicit-any -- kafkajs's internals are untyped */
type Any = any;
const { KafkaJSMetadataNotLoaded } = require('kafkajs/src/errors.js') as { KafkaJSMetadataNotLoaded: new (m: string) => Error };
const { staleMetadata } = require('kafkajs/src/protocol/error.js') as { staleMetadata: (e: unknown) => boolean };
const createTopicData = require('kafkajs/src/producer/createTopicData.js') as (o: Any) => { topic: string; partitions: { partition: number; messages: Any[] }[] }[];
const responseSerializer = require('kafkajs/src/producer/responseSerializer.js') as (r: Any) => { topicName: string; partition: number }[];

const FIXED = Symbol.for('hookyard.kafkajs-send-per-partition');

export function createSendMessages({ logger, cluster, partitioner, eosManager, retrier }: Any) {
  const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (o: Any) => Record<string, Any[]>;
  return async ({ acks, timeout, compression, topicMessages }: Any) => {
    /** topic → partition → its produce response entry, once written. */
    const done = new Map<string, Map<number, Any>>();
    const doneFor = (topic: string) => {
      let m = done.get(topic);
      if (!m) done.set(topic, (m = new Map()));
      return m;
    };

    const createProducerRequests = async (): Promise<Promise<void>[]> => {
      await cluster.refreshMetadataIfNecessary();
      /** nodeId → the topic data (partitions still to write) its leader gets in this try. */
      const perLeader = new Map<number, { topic: string; partitions: number[]; messagesPerPartition: Record<string, Any[]> }[]>();
      for (const { topic, messages } of topicMessages as { topic: string; messages: Any[] }[]) {
        const partitionMetadata = cluster.findTopicPartitionMetadata(topic);
        if (partitionMetadata.length === 0) {
          logger.debug('Producing to topic without metadata', { topic, targetTopics: Array.from(cluster.targetTopics) });
          throw new KafkaJSMetadataNotLoaded('Producing to topic without metadata');
        }
        const messagesPerPartition = groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner });
        const written = doneFor(topic);
        const pending = Object.keys(messagesPerPartition).filter((p) => !written.has(Number(p)));
        if (pending.length === 0) continue;
        const partitionsPerLeader = cluster.findLeaderForPartitions(topic, pending) as Record<string, number[]>;
        for (const [nodeId, partitions] of Object.entries(partitionsPerLeader)) {
          const list = perLeader.get(Number(nodeId)) ?? [];
          list.push({ topic, partitions, messagesPerPartition });
          perLeader.set(Number(nodeId), list);
        }
      }
      return [...perLeader].map(async ([nodeId, topicDataForBroker]) => {
        const broker = await cluster.findBroker({ nodeId });
        const topicData = createTopicData(topicDataForBroker);
        await eosManager.acquireBrokerLock(broker);
        try {
          if (eosManager.isTransactional()) await eosManager.addPartitionsToTransaction(topicData);
          for (const { topic, partitions } of topicData) {
            for (const entry of partitions as Any[]) {
              entry.firstSequence = eosManager.getSequence(topic, entry.partition);
              eosManager.updateSequence(topic, entry.partition, entry.messages.length);
            }
          }
          let response: Any;
          try {
            response = await broker.produce({
              transactionalId: eosManager.isTransactional() ? eosManager.getTransactionalId() : undefined,
              producerId: eosManager.getProducerId(),
              producerEpoch: eosManager.getProducerEpoch(),
              acks, timeout, compression, topicData,
            });
          } catch (e) {
            for (const { topic, partitions } of topicData) for (const entry of partitions) eosManager.updateSequence(topic, entry.partition, -entry.messages.length);
            throw e;
          }
          const entries = acks !== 0 ? responseSerializer(response) : [];
          for (const { topic, partitions } of topicData) {
            for (const { partition } of partitions) {
              doneFor(topic).set(partition, entries.find((x) => x.topicName === topic && x.partition === partition) ?? null);
            }
          }
        } finally {
          await eosManager.releaseBrokerLock(broker);
        }
      });
    };

    return retrier(async (bail: (e: Error) => void, retryCount: number, retryTime: number) => {
      await cluster.addMultipleTargetTopics((topicMessages as { topic: string }[]).map(({ topic }) => topic));
      try {
        // Every request of this try settles before the next: a retry must not race a
        // request still in flight for the same partitions.
        const results = await Promise.allSettled(await createProducerRequests());
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        return [...done.values()].flatMap((m) => [...m.values()]).filter((x) => x !== null);
      } catch (e) {
        const err = e as Error & { host?: string; port?: number; retriable?: boolean };
        if (err.name === 'KafkaJSConnectionClosedError') cluster.removeBroker({ host: err.host, port: err.port });
        if (!cluster.isConnected()) {
          logger.debug(`Cluster has disconnected, reconnecting: ${err.message}`, { retryCount, retryTime });
          await cluster.connect();
          await cluster.refreshMetadata();
          throw err;
        }
        if (staleMetadata(err) || err.name === 'KafkaJSMetadataNotLoaded' || err.name === 'KafkaJSConnectionError' || err.name === 'KafkaJSConnectionClosedError' || (err.name === 'KafkaJSProtocolError' && err.retriable)) {
          logger.error(`Failed to send messages: ${err.message}`, { retryCount, retryTime });
          await cluster.refreshMetadata();
          throw err;
        }
        logger.error(`${err.message}`, { retryCount, retryTime });
        if (err.retriable) throw err;
        bail(err);
      }
    });
  };
}
(createSendMessages as Any)[FIXED] = true;

/** Whether kafkajs's producer uses this send (false when kafkajs loaded its producer first). */
export const sendPerPartition: boolean = (() => {
  if ((require.cache[SEND_MODULE]?.exports as Any)?.[FIXED]) return true;
  if (require.cache[PRODUCER_MODULE]) return false;
  const m = new Module(SEND_MODULE);
  m.filename = SEND_MODULE;
  m.loaded = true;
  m.exports = createSendMessages;
  require.cache[SEND_MODULE] = m;
  return true;
})();
