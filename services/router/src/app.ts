// Composition root of the router: raw-events → deliveries.<destination> (same key) and
// dead-letters, exactly once. Each chunk of a partition's batch is one Kafka transaction
// holding its fan-out records and the consumer offset (sendOffsets), so a router killed at
// any moment neither loses nor duplicates a fan-out for read_committed consumers.
//
// kafkajs has no KIP-447 (consumer-group fencing), so fencing uses the older pattern: one
// transactional id per input partition. Whoever owns the partition next initialises the
// same id, which aborts the dead owner's open transaction and fences it.
import type { Producer } from 'kafkajs';
import {
  AGE_BUCKETS, Closer, consumerOptions, Counter, EnvelopeCodec, kafkaReadyCheck, lagGauge, opsServer, Histogram, createKafka, createMetricsRegistry, ensureTopics, groupId, isPoisonRecord, route, routeTable, runSupervised, topicNames,
  type Config, type SupervisedConsumer, type DeadLetter, type Logger, type RawEvent, type RuntimeEnv, type Service,
  decisionsOf, durabilityPromise, warnIfInternalStateUnflushed, LiveConfig, withDeadline, type RouteTable, type RunningConfig,
} from '@hookyard/core';

export interface RouterDeps {
  config: Config;
  env: RuntimeEnv;
  log: Logger;
}

const CHUNK = 500;
const PRODUCER_CONNECT_MS = 20_000;
/** A chunk still unfinished after this is logged with the step it waits in (a stuck router is otherwise silent). */
const STUCK_MS = 30_000;

export function buildRouter({ config, env, log }: RouterDeps): Service & { metrics: ReturnType<typeof createMetricsRegistry> } {
  const topics = topicNames(config.kafka.topicPrefix);
  const group = groupId(config.kafka, 'router');
  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-router`, log);
  const codec = new EnvelopeCodec(env.registryUrl);
  const consumer = kafka.consumer(consumerOptions(config.kafka, group));
  const admin = kafka.admin();
  const producers = new Map<string, Promise<Producer>>();
  const closer = new Closer();
  const metrics = createMetricsRegistry('router');
  const eventsIn = new Counter({ name: 'hookyard_router_events_total', help: 'Raw events consumed', labelNames: ['source'], registers: [metrics] });
  const matched = new Counter({ name: 'hookyard_router_matched_total', help: 'Deliveries produced per connection', labelNames: ['source', 'destination'], registers: [metrics] });
  const filtered = new Counter({ name: 'hookyard_router_filtered_total', help: 'Events a connection filter left out', labelNames: ['source', 'destination'], registers: [metrics] });
  const transformErrors = new Counter({ name: 'hookyard_router_transform_errors_total', help: 'Transforms that failed (sent to dead-letters)', labelNames: ['source', 'destination'], registers: [metrics] });
  const undecodable = new Counter({ name: 'hookyard_router_undecodable_total', help: 'raw-events records that could not be decoded (sent to dead-letters)', registers: [metrics] });
  // Time from ingress's capture to the router's fetch: where end-to-end latency goes.
  const eventAge = new Histogram({ name: 'hookyard_router_event_age_seconds', help: 'Age of a raw event (since ingress received it) when the router fetches it', buckets: AGE_BUCKETS, registers: [metrics] });
  const txSeconds = new Histogram({ name: 'hookyard_router_transaction_seconds', help: 'Fan-out transaction latency', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [metrics] });
  // The connections routed by: the file's, or the newest applied version's. Each chunk
  // takes one snapshot, so one transaction is routed by one version.
  const live = new LiveConfig<{ table: RouteTable }>({
    kafka, file: config, log, metrics, topic: topics.configVersions,
    build: async (running: RunningConfig) => {
      const c = running.config;
      const table = routeTable(c); // compiles every transform first: a bad one refuses the version
      await ensureTopics(admin, config.kafka, [...(c.router.recordDecisions ? [topics.decisions] : []), ...c.destinations.map((d) => topics.delivery(d.name))]);
      return { table };
    },
  });

  const txId = (partition: number) => `${group}-${topics.rawEvents}-${partition}`;
  function producerFor(partition: number): Promise<Producer> {
    const id = txId(partition);
    let p = producers.get(id);
    if (!p) {
      // A transaction that starts right after the last one committed is often refused with
      // CONCURRENT_TRANSACTIONS while the broker still writes the commit markers; the
      // client's usual 100 ms first back-off would then sit in every event's latency (the
      // Java producer retries this case after 20 ms for the same reason).
      const producer = kafka.producer({
        transactionalId: id, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false,
        retry: { initialRetryTime: 5, maxRetryTime: 2_000, retries: 12 },
      });
      // Bounded: a connect (InitProducerId) that never finishes would hold this partition's
      // batch, every partition fetched with it, and close(). Past it, the batch is tried
      // again with a fresh producer.
      p = withDeadline(producer.connect(), PRODUCER_CONNECT_MS, `transactional producer ${id}: connect`).then(() => producer);
      p.catch((err: unknown) => {
        producers.delete(id);
        log.error({ transactionalId: id, err: (err as Error).message }, 'transactional producer not ready; the batch is tried again');
        void producer.disconnect().catch(() => {});
      });
      producers.set(id, p);
    }
    return p;
  }

  return {
    metrics,
    async start() {
      await admin.connect();
      closer.add('admin', () => admin.disconnect());
      lagGauge(metrics, admin, group, () => [topics.rawEvents], 'hookyard_router_consumer_lag');
      let opsAddress: string | undefined;
      if (env.metricsPort !== undefined) {
        const ops = opsServer(metrics, kafkaReadyCheck(admin, topics.rawEvents), () => ({ durability: durabilityPromise(config.kafka), configVersion: live.started ? live.current().running.label : null }));
        opsAddress = await ops.listen(env.metricsPort);
        closer.add('ops', () => ops.close());
      }
      await ensureTopics(admin, config.kafka, [topics.rawEvents, topics.deadLetters]);
      warnIfInternalStateUnflushed(admin, config.kafka, log);
      await live.start(admin);
      closer.add('config', () => live.close());
      closer.add('producers', async () => {
        for (const p of producers.values()) await p.then((x) => x.disconnect(), () => {});
      });
      await consumer.connect();
      let supervised: SupervisedConsumer | undefined;
      closer.add('consumer', () => { supervised?.stop(); return consumer.disconnect(); });
      await consumer.subscribe({ topic: topics.rawEvents, fromBeginning: true });
      supervised = await runSupervised(consumer, {
        autoCommit: false,
        eachBatchAutoResolve: false,
        // Every assigned partition at once: each has its own transactional producer, and
        // kafkajs fetches again only when the whole previous fetch is processed, so fewer
        // would queue one partition's transaction behind another's (end-to-end latency).
        partitionsConsumedConcurrently: Math.max(1, config.kafka.partitions),
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          let step = 'producer';
          const startedAt = Date.now();
          const watchdog = setInterval(() => log.error({ partition: batch.partition, step, seconds: Math.round((Date.now() - startedAt) / 1000) }, 'router batch not finished'), STUCK_MS);
          watchdog.unref();
          try {
            const producer = await producerFor(batch.partition);
            const fetchedAt = Date.now();
            for (const m of batch.messages) eventAge.observe(Math.max(0, fetchedAt - Number(m.timestamp)) / 1000);
            for (let i = 0; i < batch.messages.length; i += CHUNK) {
              if (!isRunning() || isStale()) return;
              const chunk = batch.messages.slice(i, i + CHUNK);
              step = 'route';
              const { running, runtime: { table } } = live.current();
              const recordDecisions = running.config.router.recordDecisions;
              const out = new Map<string, { key: string; value: Buffer; timestamp: string; partition?: number }[]>();
              const push = (topic: string, key: string, value: Buffer, timestamp: string, partition?: number) => {
                let list = out.get(topic);
                if (!list) out.set(topic, (list = []));
                list.push(partition === undefined ? { key, value, timestamp } : { key, value, timestamp, partition });
              };
              for (const message of chunk) {
                let event: RawEvent;
                try {
                  event = await codec.decode<RawEvent>(message.value!);
                } catch (err) {
                  // The registry being down is not the record's fault: fail the batch, retry later.
                  if (!isPoisonRecord(err)) throw err;
                  // A poison record must not stop the partition: park it and move on.
                  undecodable.inc();
                  const dl: DeadLetter = {
                    eventId: '', source: '', destination: '', receivedAt: Number(message.timestamp), orderingKey: message.key?.toString() ?? '',
                    headers: {}, body: message.value ?? Buffer.alloc(0), stage: 'decode', attempts: 0, lastStatus: null,
                    lastError: `undecodable raw event at ${batch.topic}/${batch.partition}@${message.offset}: ${(err as Error).message}`, deadAt: Date.now(), replayId: null,
                  };
                  push(topics.deadLetters, dl.orderingKey, await codec.encode(topics.deadLetters, 'dead-letter', dl), message.timestamp);
                  continue;
                }
                eventsIn.inc({ source: event.source });
                const r = await route(table, event);
                for (const d of r.deliveries) {
                  const topic = topics.delivery(d.destination);
                  push(topic, d.orderingKey, await codec.encode(topic, 'delivery', { ...d, configVersion: running.label }), message.timestamp);
                  matched.inc({ source: event.source, destination: d.destination });
                }
                for (const dest of r.filtered) filtered.inc({ source: event.source, destination: dest });
                if (recordDecisions) {
                  // The decision goes to the partition matching the raw event's, so a
                  // transaction adds one partition to its commit, not one per key.
                  push(topics.decisions, event.id, await codec.encode(topics.decisions, 'routing-decision', {
                    eventId: event.id, source: event.source, receivedAt: event.receivedAt, routedAt: Date.now(), decisions: decisionsOf(r), replayId: event.replayId, configVersion: running.label,
                  }), message.timestamp, batch.partition % config.kafka.partitions);
                }
                for (const dl of r.deadLetters) {
                  push(topics.deadLetters, dl.orderingKey, await codec.encode(topics.deadLetters, 'dead-letter', dl), message.timestamp);
                  transformErrors.inc({ source: event.source, destination: dl.destination });
                  log.warn({ eventId: dl.eventId, destination: dl.destination, error: dl.lastError }, 'transform failed; event sent to dead-letters');
                }
              }
              const last = chunk[chunk.length - 1]!;
              const t0 = performance.now();
              step = 'transaction';
              const tx = await producer.transaction();
              try {
                if (out.size > 0) await tx.sendBatch({ acks: -1, topicMessages: [...out].map(([topic, messages]) => ({ topic, messages })) });
                await tx.sendOffsets({ consumerGroupId: group, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }] }] });
                await tx.commit();
              } catch (err) {
                await tx.abort().catch(() => {});
                // A fenced or broken transactional producer cannot be reused: start afresh.
                producers.delete(txId(batch.partition));
                await producer.disconnect().catch(() => {});
                throw err;
              }
              txSeconds.observe((performance.now() - t0) / 1000);
              resolveOffset(last.offset);
              step = 'heartbeat';
              await heartbeat();
            }
          } finally {
            clearInterval(watchdog);
          }
        },
      }, log, 'router');
      log.info({ group, configVersion: live.current().running.label }, 'router consuming');
      return opsAddress;
    },
    close: () => closer.close(log),
  };
}
