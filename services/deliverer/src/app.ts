// Composition root of the deliverer: deliveries.<destination> → HTTP, with durable,
// non-blocking retries. A failed attempt is written to a retry tier topic (retry.<tier>ms)
// before the delivery's own offset is committed, so a waiting retry lives in Kafka — it
// survives a kill -9 of any process and a Redis restart — and never holds up the rest of
// its partition. A second consumer (group <group>-retry) waits out each tier in offset
// order and re-attempts; after the last attempt, or on a terminal answer, the delivery
// goes to dead-letters. Every attempt is recorded in delivery-attempts.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from 'kafkajs';
import {
  BatchingProducer, Closer, Counter, EnvelopeCodec, Histogram, createKafka, createMetricsRegistry, ensureTopics, groupId, kafkaReadyCheck,
  lagGauge, opsServer, topicNames, type Config, type DeadLetter, type Delivery, type DestinationConfig, type Logger,
  type RuntimeEnv, type Service,
} from '@hookyard/core';
import { RedisDedupStore, type DedupStore } from './dedup-store.ts';
import { HttpSender, type AttemptResult } from './http-sender.ts';
import { classify, type Outcome } from './outcome.ts';
import { TIERS_MS, delayBefore, tierFor } from './retry-schedule.ts';

export interface DelivererDeps {
  config: Config;
  env: RuntimeEnv;
  log: Logger;
  dedup?: DedupStore;
}

const NOT_BEFORE = 'hookyard-not-before';

export function buildDeliverer({ config, env, log, dedup }: DelivererDeps): Service & { metrics: ReturnType<typeof createMetricsRegistry> } {
  const topics = topicNames(config.kafka.topicPrefix);
  const byName = new Map<string, DestinationConfig>(config.destinations.map((d) => [d.name, d]));
  const byTopic = new Map<string, DestinationConfig>(config.destinations.map((d) => [topics.delivery(d.name), d]));
  const tierTopics = new Map<string, number>(TIERS_MS.map((t) => [topics.retryTier(t), t]));
  const group = groupId(config.kafka, 'deliverer');
  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-deliverer`, log);
  const codec = new EnvelopeCodec(env.registryUrl);
  const session = { sessionTimeout: config.kafka.sessionTimeoutMs, heartbeatInterval: Math.floor(config.kafka.sessionTimeoutMs / 10) };
  const consumer = kafka.consumer({ groupId: group, allowAutoTopicCreation: false, ...session });
  const retryConsumer = kafka.consumer({ groupId: `${group}-retry`, allowAutoTopicCreation: false, ...session });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  // Attempt records, retries and dead letters from all partitions share produce requests.
  const out = new BatchingProducer(producer, { maxBatch: 1000, timeoutMs: 30_000 });
  const admin = kafka.admin();
  const store = dedup ?? new RedisDedupStore(env.redisUrl, config.kafka.topicPrefix);
  const sender = new HttpSender();
  const stopping = new AbortController();
  const closer = new Closer();
  const metrics = createMetricsRegistry('deliverer');
  const attempts = new Counter({ name: 'hookyard_deliverer_attempts_total', help: 'Delivery attempts by destination and outcome', labelNames: ['destination', 'outcome'], registers: [metrics] });
  const latency = new Histogram({ name: 'hookyard_deliverer_attempt_seconds', help: 'Attempt latency', labelNames: ['destination'], registers: [metrics] });
  const retriesScheduled = new Counter({ name: 'hookyard_deliverer_retries_scheduled_total', help: 'Retries written to a retry tier', labelNames: ['destination'], registers: [metrics] });
  const deadLetters = new Counter({ name: 'hookyard_deliverer_dead_letters_total', help: 'Deliveries sent to dead-letters', labelNames: ['destination'], registers: [metrics] });
  const gone = new Counter({ name: 'hookyard_deliverer_gone_total', help: '410 answers (the destination asks to be paused)', labelNames: ['destination'], registers: [metrics] });

  const isDelivered = async (d: Delivery): Promise<boolean> => {
    try {
      return await store.isDelivered(d.destination, d.eventId);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'dedup store unavailable; delivering at-least-once');
      return false;
    }
  };

  async function record(d: Delivery, attempt: number, r: AttemptResult, o: Outcome, nextAt: number | null): Promise<void> {
    const value = await codec.encode(topics.attempts, 'delivery-attempt', {
      eventId: d.eventId, destination: d.destination, attempt, at: Date.now(), status: r.status ?? null, outcome: o.kind,
      latencyMs: r.latencyMs, error: r.error ?? (o.kind === 'success' ? null : o.reason), responseSnippet: r.responseSnippet.slice(0, 2048), nextAttemptAt: nextAt,
    });
    await out.send(topics.attempts, { key: d.eventId, value });
  }

  async function deadLetter(d: Delivery, attemptsMade: number, status: number | null, error: string): Promise<void> {
    const dl: DeadLetter = {
      eventId: d.eventId, source: d.source, destination: d.destination, receivedAt: d.receivedAt, orderingKey: d.orderingKey,
      headers: d.headers, body: d.body, stage: 'delivery', attempts: attemptsMade, lastStatus: status, lastError: error, deadAt: Date.now(), replayId: d.replayId,
    };
    await out.send(topics.deadLetters, { key: d.orderingKey, value: await codec.encode(topics.deadLetters, 'dead-letter', dl) });
    deadLetters.inc({ destination: d.destination });
  }

  /** Puts a delivery in the retry tier for its remaining wait; acked before the caller commits. */
  async function park(d: Delivery, notBefore: number): Promise<void> {
    const topic = topics.retryTier(tierFor(notBefore - Date.now()));
    await out.send(topic, { key: d.orderingKey, value: await codec.encode(topic, 'delivery', d), headers: { [NOT_BEFORE]: String(notBefore) } });
  }

  /**
   * Waits for the send lease on (destination, event). Two replicas can hold one record during
   * a rebalance; the lease makes the second wait for the first's answer instead of sending too.
   * Returns false when the other replica delivered it meanwhile. Redis down: no lease.
   */
  async function acquire(dest: DestinationConfig, d: Delivery): Promise<boolean> {
    const lease = dest.timeoutMs + 5_000;
    for (;;) {
      if (await isDelivered(d)) return false;
      const got = await store.claim(d.destination, d.eventId, lease).catch(() => true);
      if (got) return true;
      if (stopping.signal.aborted) throw new Error('shutting down; delivery handed back uncommitted');
      await sleep(200, undefined, { signal: stopping.signal }).catch(() => {});
    }
  }

  /** One attempt and everything that follows from its outcome. `d.attempt` = attempts already made. */
  async function attemptOnce(dest: DestinationConfig, d: Delivery): Promise<void> {
    if (!(await acquire(dest, d))) {
      attempts.inc({ destination: dest.name, outcome: 'duplicate_skipped' });
      return;
    }
    try {
      await attemptAndFollowUp(dest, d);
    } finally {
      await store.release(d.destination, d.eventId).catch(() => {});
    }
  }

  async function attemptAndFollowUp(dest: DestinationConfig, d: Delivery): Promise<void> {
    const n = d.attempt + 1;
    // In-flight requests are not aborted on shutdown: close() lets them finish.
    const r = await sender.send(dest, d);
    const o = classify(r);
    latency.observe({ destination: dest.name }, r.latencyMs / 1000);
    attempts.inc({ destination: dest.name, outcome: r.ok ? 'success' : r.status ? `http_${Math.floor(r.status / 100)}xx` : 'network' });
    if (o.kind === 'success') {
      await store.markDelivered(d.destination, d.eventId).catch((err: Error) => log.warn({ err: err.message }, 'could not record delivery in dedup store'));
      await record(d, n, r, o, null);
      return;
    }
    if (o.pauseDestination) {
      // Pausing is the destination-protection issue's job; until then it is counted and logged.
      gone.inc({ destination: dest.name });
      log.warn({ destination: dest.name }, 'destination answered 410 Gone');
    }
    const delay = o.kind === 'retry' ? delayBefore(dest, n + 1) : undefined;
    if (delay === undefined) {
      await record(d, n, r, { ...o, kind: 'dead' }, null);
      await deadLetter(d, n, r.status ?? null, o.kind === 'retry' ? `attempts exhausted; last: ${r.error ?? o.reason}` : o.reason);
      log.warn({ destination: dest.name, eventId: d.eventId, attempts: n, status: r.status }, 'delivery dead-lettered');
      return;
    }
    const notBefore = Date.now() + Math.max(delay, o.minDelayMs);
    await record(d, n, r, o, notBefore);
    await park({ ...d, attempt: n }, notBefore);
    retriesScheduled.inc({ destination: dest.name });
  }

  return {
    metrics,
    async start() {
      closer.add('dedup', () => store.close());
      closer.add('http', () => sender.close());
      await admin.connect();
      closer.add('admin', () => admin.disconnect());
      lagGauge(metrics, admin, group, () => [...byTopic.keys()], 'hookyard_deliverer_consumer_lag');
      await ensureTopics(admin, config.kafka, [...byTopic.keys(), ...tierTopics.keys(), topics.deadLetters, topics.attempts]);
      let opsAddress: string | undefined;
      const firstTopic = [...byTopic.keys()][0];
      if (env.metricsPort !== undefined && firstTopic) {
        const ops = opsServer(metrics, kafkaReadyCheck(admin, firstTopic));
        opsAddress = await ops.listen(env.metricsPort);
        closer.add('ops', () => ops.close());
      }
      await producer.connect();
      closer.add('producer', () => producer.disconnect());
      await consumer.connect();
      await retryConsumer.connect();
      closer.add('consumers', () => Promise.all([consumer.disconnect(), retryConsumer.disconnect()]));
      closer.add('stop-waits', () => stopping.abort());
      if (byTopic.size === 0) {
        log.warn('no destinations configured; deliverer idle');
        return opsAddress;
      }
      await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 8,
        // The offset is committed only after the attempt's consequence (2xx recorded, retry
        // parked, or dead letter) was acked by Kafka: a crash repeats an attempt, never skips one.
        eachMessage: async ({ topic, message }) => {
          const dest = byTopic.get(topic);
          if (!dest || !message.value) return;
          await attemptOnce(dest, await codec.decode<Delivery>(message.value));
        },
      });
      await retryConsumer.subscribe({ topics: [...tierTopics.keys()], fromBeginning: true });
      await retryConsumer.run({
        autoCommit: true,
        eachBatchAutoResolve: false,
        // Tier partitions mostly sleep; give each its own slot so none waits behind another.
        partitionsConsumedConcurrently: tierTopics.size * config.kafka.partitions,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
          const tier = tierTopics.get(batch.topic)!;
          for (const message of batch.messages) {
            // Every record of a tier waits the tier's time from when it was written.
            const due = Number(message.timestamp) + tier;
            while (Date.now() < due) {
              if (!isRunning() || isStale() || stopping.signal.aborted) return; // unresolved: the next owner resumes here
              await sleep(Math.min(1000, due - Date.now()), undefined, { signal: stopping.signal }).catch(() => {});
              await heartbeat();
            }
            if (!isRunning() || isStale()) return;
            const d = await codec.decode<Delivery>(message.value!);
            const dest = byName.get(d.destination);
            if (dest) {
              const notBefore = Number(message.headers?.[NOT_BEFORE]?.toString() ?? 0);
              if (notBefore > Date.now() + 50) await park(d, notBefore); // not yet: next hop down
              else await attemptOnce(dest, d);
            } else {
              await deadLetter(d, d.attempt, null, `destination "${d.destination}" is no longer configured`);
            }
            resolveOffset(message.offset);
            await commitOffsetsIfNecessary();
            await heartbeat();
          }
        },
      });
      log.info({ group, destinations: config.destinations.length }, 'deliverer consuming');
      return opsAddress;
    },
    close: () => closer.close(log),
  };
}
