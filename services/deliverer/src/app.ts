// Composition root of the deliverer: deliveries.<destination> → HTTP, with durable,
// non-blocking retries. Each partition is run by a PartitionWorker: records of an
// unordered destination are attempted side by side, records of a per-key destination one
// key at a time, and only the contiguous prefix of finished records is committed — a
// crash repeats an attempt, never skips one.
//
// Unordered: a failed attempt is written to a retry tier topic (retry.<tier>ms) before
// the record counts as finished, so a waiting retry lives in Kafka — it survives a kill -9
// of any process and a Redis restart — and never holds up the rest of its partition. A
// second consumer (group <group>-retry) waits out each tier in offset order and
// re-attempts. Per-key: the failed record stays in its partition and its key waits (the
// commit stays behind it, so a restart re-reads it; the attempt count is kept as a hint in
// Redis). After the last attempt, or on a terminal answer, the delivery goes to
// dead-letters. Every attempt is recorded in delivery-attempts.
import { performance } from 'node:perf_hooks';
import type { Consumer, Producer } from 'kafkajs';
import {
  BatchingProducer, logRenewals, Closer, consumerOptions, Counter, EnvelopeCodec, Gauge, createKafka, createMetricsRegistry, ensureTopics, groupId, DestinationStateStore, RedisProtectionStore,
  kafkaReadyCheck, lagGauge, opsServer, runSupervised, topicNames, type Config, type SupervisedConsumer, type DestinationConfig, type Logger,
  type RuntimeEnv, type Service,
  durabilityPromise, warnIfInternalStateUnflushed, LiveConfig,
} from '@hookyard/core';
import { HttpSender } from './http-sender.ts';
import { DestinationGuard } from './destination-guard.ts';
import { PartitionWorker } from './partition-worker.ts';
import { deliveryMetrics, deliverySteps, lean } from './delivery.ts';
import { StageMetrics, type StageClock } from './stages.ts';
import { TIERS_MS } from './retry-schedule.ts';

/** A tier record due within this is taken now (the attempt re-parks it if still early). */
const TIER_EARLY_MS = 20;

export interface DelivererDeps {
  config: Config;
  env: RuntimeEnv;
  log: Logger;
}

/** How often a partition paused for a held (paused or breaker-open) destination looks again. */
const HELD_RECHECK_MS = 1000;

export function buildDeliverer({ config, env, log }: DelivererDeps): Service & { metrics: ReturnType<typeof createMetricsRegistry> } {
  const topics = topicNames(config.kafka.topicPrefix);
  const opts = config.deliverer;
  /** Records a partition of a held destination keeps in memory (waiting at the gate, ready to probe). */
  const heldPending = Math.min(opts.maxPendingPerPartition, opts.concurrencyPerPartition);
  const tierTopics = new Map<string, number>(TIERS_MS.map((t) => [topics.retryTier(t), t]));
  const group = groupId(config.kafka, 'deliverer');
  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-deliverer`, log);
  const codec = new EnvelopeCodec(env.registryUrl);
  const consumer = kafka.consumer(consumerOptions(config.kafka, group));
  const retryConsumer = kafka.consumer(consumerOptions(config.kafka, `${group}-retry`));
  const newProducer = (): Producer => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const producer = newProducer();
  // Attempt records, retries and dead letters from all partitions share produce requests.
  const out = new BatchingProducer(producer, { maxBatch: 1000, timeoutMs: 30_000, renew: newProducer });
  out.onRenew = logRenewals(log, () => out.renewals);
  const admin = kafka.admin();
  const sender = new HttpSender();
  const protection = new RedisProtectionStore(env.redisUrl, config.kafka.topicPrefix);
  const states = new DestinationStateStore(kafka, config.kafka, topics.destinationState);
  const guard = new DestinationGuard(protection, states, log, (destination, event) => breakerEvents.inc({ destination, event }));
  const stopping = new AbortController();
  const closer = new Closer();
  const workers = { main: new Map<string, PartitionWorker>(), retry: new Map<string, PartitionWorker>() };
  const metrics = createMetricsRegistry('deliverer');
  // Destinations as the running config version says: URL, auth, signing secrets, timeout,
  // retry schedule, limits and breaker are read at each attempt, so an applied version
  // takes effect at the next attempt; added or removed destinations change the subscription.
  const live = new LiveConfig<{ byName: Map<string, DestinationConfig>; byTopic: Map<string, DestinationConfig> }>({
    kafka, file: config, log, metrics, topic: topics.configVersions,
    build: async ({ config: c }) => {
      const byTopic = new Map<string, DestinationConfig>(c.destinations.map((d) => [topics.delivery(d.name), d]));
      await ensureTopics(admin, config.kafka, [...byTopic.keys()]);
      return { byName: new Map(c.destinations.map((d) => [d.name, d])), byTopic };
    },
  });
  const byName = { get: (name: string) => live.current().runtime.byName.get(name) };
  const byTopic = { get: (topic: string) => live.current().runtime.byTopic.get(topic) };
  const destinations = (): DestinationConfig[] => (live.started ? live.current().running.config.destinations : []);
  const breakerEvents = new Counter({ name: 'hookyard_deliverer_breaker_transitions_total', help: 'Circuit breaker openings and closings', labelNames: ['destination', 'event'], registers: [metrics] });
  new Gauge({
    name: 'hookyard_deliverer_breaker_state', help: 'Circuit breaker per destination: 0 closed, 1 half-open, 2 open', labelNames: ['destination'], registers: [metrics],
    async collect() {
      this.reset();
      for (const d of destinations()) {
        const b = await protection.breaker(d.name, d.breaker.cooldownMs).catch(() => null);
        if (b) this.set({ destination: d.name }, b.state === 'open' ? 2 : b.state === 'half-open' ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'hookyard_deliverer_paused', help: '1 while a destination is paused (config or hookyard destination pause)', labelNames: ['destination'], registers: [metrics],
    collect() {
      for (const d of destinations()) this.set({ destination: d.name }, guard.isPaused(d) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'hookyard_deliverer_oldest_pending_seconds', help: 'Age of the oldest record taken from a destination topic and not yet finished', labelNames: ['destination'], registers: [metrics],
    collect() {
      this.reset();
      const oldest = new Map<string, number>();
      for (const [tp, w] of workers.main) {
        const dest = byTopic.get(tp.slice(0, tp.lastIndexOf(':')));
        const t = w.oldestTimestamp();
        if (dest && t !== null) oldest.set(dest.name, Math.min(oldest.get(dest.name) ?? t, t));
      }
      for (const [destination, t] of oldest) this.set({ destination }, (Date.now() - t) / 1000);
    },
  });
  const stages = new StageMetrics(metrics);
  const dm = deliveryMetrics(metrics);
  const steps = deliverySteps({ topics, codec, out, guard, sender, states, log, opts, byName, byTopic, metrics: dm });
  const rebalances = new Counter({ name: 'hookyard_deliverer_rebalances_total', help: 'Consumer group joins (1 per consumer at start; more mean rebalances)', labelNames: ['consumer'], registers: [metrics] });
  new Gauge({
    name: 'hookyard_deliverer_pending', help: 'Records taken from a destination topic and not yet finished', labelNames: ['destination'], registers: [metrics],
    collect() {
      this.reset();
      for (const [tp, w] of workers.main) {
        const dest = byTopic.get(tp.slice(0, tp.lastIndexOf(':')));
        if (dest) this.inc({ destination: dest.name }, w.pending);
      }
    },
  });


  function workerFor(kind: 'main' | 'retry', c: Consumer, topic: string, partition: number, ordered: boolean): PartitionWorker {
    const map = workers[kind];
    const id = `${topic}:${partition}`;
    let w = map.get(id);
    if (!w) {
      w = new PartitionWorker({
        concurrency: opts.concurrencyPerPartition,
        maxPending: opts.maxPendingPerPartition,
        ordered,
        signal: stopping.signal,
        commit: (next) => c.commitOffsets([{ topic, partition, offset: String(next) }]),
        onTaskError: (err, offset) => log.warn({ topic, partition, offset, err: (err as Error).message }, 'delivery step failed; retrying'),
      });
      map.set(id, w);
    }
    return w;
  }

  /**
   * A fetch that held only commit markers (or aborted records) never reaches eachBatch:
   * kafkajs moves its own position past it, and the worker is told here so its commit
   * does too. A partition's worker that has seen nothing yet (just assigned) takes it only
   * when it starts at the group's committed offset.
   */
  async function skipMarkers(topic: string, partition: number, first: string | null, last: string): Promise<void> {
    const dest = byTopic.get(topic);
    if (!dest || first === null || stopping.signal.aborted) return;
    const existing = workers.main.get(`${topic}:${partition}`);
    if (existing?.seenAny) {
      existing.skip(Number(first), Number(last) + 1);
      return;
    }
    try {
      const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const committed = Number(offsets?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
      if (committed === Number(first)) workerFor('main', consumer, topic, partition, dest.ordering === 'per-key').skip(Number(first), Number(last) + 1, committed);
    } catch { /* the next fetch with records moves the commit instead */ }
  }

  /** A rebalance: whatever the old assignment held is handed back uncommitted. */
  function revokeAll(kind: 'main' | 'retry'): void {
    for (const w of workers[kind].values()) w.revoke();
    workers[kind].clear();
  }

  /** Tier partitions paused until their next record is due (see the retry consumer). */
  const wakeups = new Map<string, NodeJS.Timeout>();
  function sleepUntil(c: Consumer, topic: string, partition: number, due: number): void {
    const key = `${topic}|${partition}`;
    clearTimeout(wakeups.get(key));
    c.pause([{ topic, partitions: [partition] }]);
    const timer = setTimeout(() => {
      wakeups.delete(key);
      if (!stopping.signal.aborted) c.resume([{ topic, partitions: [partition] }]);
    }, Math.max(0, due - Date.now()));
    timer.unref();
    wakeups.set(key, timer);
  }

  /** The destination topics the main consumer reads. */
  const subscribed = new Set<string>();

  async function drain(): Promise<void> {
    stopping.abort();
    for (const t of wakeups.values()) clearTimeout(t);
    wakeups.clear();
    for (const [c, list] of [[consumer, [...subscribed]], [retryConsumer, [...tierTopics.keys()]]] as const) {
      try {
        c.pause(list.map((topic) => ({ topic })));
      } catch { /* not running */ }
    }
    const all = [...workers.main.values(), ...workers.retry.values()];
    await Promise.all(all.map((w) => w.drain(opts.shutdownTimeoutMs)));
    // Past the deadline: abort what is still in flight; those attempts fail, release their
    // leases and stay uncommitted, so the next owner sends them again.
    await sender.destroy();
    const results = await Promise.all(all.map((w) => w.drain(2000)));
    const unfinished = results.reduce((n, r) => n + r.unfinished, 0);
    log.info({ unfinished }, unfinished ? 'deliverer drained; unfinished records handed back uncommitted' : 'deliverer drained');
  }

  return {
    metrics,
    async start() {
      closer.add('protection', () => protection.close());
      closer.add('http', () => sender.close());
      await admin.connect();
      closer.add('admin', () => admin.disconnect());
      lagGauge(metrics, admin, group, () => [...subscribed], 'hookyard_deliverer_consumer_lag');
      await ensureTopics(admin, config.kafka, [...tierTopics.keys(), topics.deadLetters, topics.attempts]);
      warnIfInternalStateUnflushed(admin, config.kafka, log);
      await live.start(admin);
      closer.add('config', () => live.close());
      await states.start(admin, log);
      closer.add('destination-state', () => states.close());
      let opsAddress: string | undefined;
      if (env.metricsPort !== undefined) {
        const ops = opsServer(metrics, kafkaReadyCheck(admin, topics.attempts), () => ({ durability: durabilityPromise(config.kafka), configVersion: live.current().running.label }));
        opsAddress = await ops.listen(env.metricsPort);
        closer.add('ops', () => ops.close());
      }
      await producer.connect();
      closer.add('producer', () => out.current.disconnect());
      await consumer.connect();
      await retryConsumer.connect();
      const supervised: SupervisedConsumer[] = [];
      let mainSupervisor: SupervisedConsumer | undefined;
      closer.add('consumers', () => {
        for (const s of supervised) s.stop();
        mainSupervisor?.stop();
        return Promise.all([consumer.disconnect(), retryConsumer.disconnect()]);
      });
      // Runs first on close: stop intake, let in-flight attempts finish, commit.
      closer.add('drain', drain);
      consumer.on(consumer.events.GROUP_JOIN, () => { rebalances.inc({ consumer: 'main' }); revokeAll('main'); });
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize === 0) void skipMarkers(payload.topic, payload.partition, payload.firstOffset, payload.lastOffset);
      });
      retryConsumer.on(retryConsumer.events.GROUP_JOIN, () => { rebalances.inc({ consumer: 'retry' }); revokeAll('retry'); });
      const mainRun: Parameters<Consumer['run']>[0] = {
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 8,
        // Records are handed to the partition's worker and resolved (fetching goes on);
        // the worker commits what finished. A partition whose worker is full (a slow,
        // paused, throttled or broken destination) is paused until it has room again, so it
        // never holds one of the consumer's slots and never slows another destination; the
        // consumer loop, and so the heartbeats, go on.
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
          const dest = byTopic.get(batch.topic);
          if (!dest) {
            // Its destination was removed by an applied version: its records wait in Kafka.
            pause();
            return;
          }
          const w = workerFor('main', consumer, batch.topic, batch.partition, dest.ordering === 'per-key');
          const fetchedAt = Date.now();
          const fetchedPerf = performance.now();
          const { topic, partition } = batch;
          for (const m of batch.messages) {
            if (!isRunning() || isStale() || w.signal.aborted || stopping.signal.aborted) return;
            if (!w.hasRoom()) {
              const resume = pause();
              w.onRoom(() => { if (!stopping.signal.aborted) resume(); });
              return; // unresolved records are fetched again after the resume
            }
            if (w.pending >= heldPending && guard.isHolding(dest)) {
              // Paused or breaker open: the records already waiting at the gate are enough
              // to probe with; the rest wait in Kafka, not in this process's heap (thousands
              // of held records made the healthy destinations pay in GC pauses).
              const resume = pause();
              const recheck = (): void => {
                if (stopping.signal.aborted) return;
                if (w.signal.aborted || !guard.isHolding(dest) || w.pending < heldPending) resume();
                else setTimeout(recheck, HELD_RECHECK_MS).unref();
              };
              setTimeout(recheck, HELD_RECHECK_MS).unref();
              return;
            }
            const offset = Number(m.offset);
            let observed = false; // a task run again after a failed step is not fetched again
            const rec = lean(m);
            w.push(offset, rec.key ?? '', async (ctx) => {
              if (!rec.value) return;
              const started = performance.now();
              const d = await steps.decode(topic, partition, rec);
              if (!d) return;
              let clock: StageClock | undefined;
              if (d.attempt === 0 && d.replayId === null && !observed) {
                dm.eventAge.observe({ destination: dest.name, stage: 'fetched' }, Math.max(0, fetchedAt - d.receivedAt) / 1000);
                clock = stages.clock(dest.name, dest.ordering, fetchedPerf);
                clock.lapTo('queued', started);
                clock.lap('decode');
              }
              observed = true;
              await (dest.ordering === 'per-key' ? steps.perKeyTask(dest, d, clock) : steps.unorderedTask(dest, d, false, clock))(ctx);
            }, Number(m.timestamp));
            resolveOffset(m.offset);
          }
          // Every record taken: what follows the last one in this fetch (commit markers) is
          // committed past once the records before it finish.
          const last = batch.messages[batch.messages.length - 1];
          if (last) w.skip(Number(last.offset) + 1, Number(batch.lastOffset()) + 1);
          await heartbeat();
        },
      };
      /**
       * The main consumer reads the running version's destination topics. kafkajs subscribes
       * only while stopped, so a version that adds or removes a destination stops the
       * consumer and runs it again (a rebalance of this member: what it held is handed back
       * uncommitted and read again; delivered marks keep that from sending twice).
       */
      let following = Promise.resolve();
      const follow = async (): Promise<void> => {
        const wanted = [...live.current().runtime.byTopic.keys()];
        if (stopping.signal.aborted || (mainSupervisor && wanted.length === subscribed.size && wanted.every((t) => subscribed.has(t)))) return;
        if (mainSupervisor) {
          mainSupervisor.stop();
          await consumer.stop();
        }
        const added = wanted.filter((t) => !subscribed.has(t));
        if (added.length > 0) await consumer.subscribe({ topics: added, fromBeginning: true });
        subscribed.clear();
        for (const t of wanted) subscribed.add(t);
        if (wanted.length === 0) {
          log.warn('no destinations configured; deliverer idle');
          return;
        }
        mainSupervisor = await runSupervised(consumer, mainRun, log, 'deliveries');
      };
      await follow();
      live.onSwitch(() => {
        following = following.then(follow).catch((err: unknown) => log.error({ err: (err as Error).message }, 'could not follow the new destinations; restart the deliverer'));
      });
      await retryConsumer.subscribe({ topics: [...tierTopics.keys()], fromBeginning: true });
      supervised.push(await runSupervised(retryConsumer, {
        autoCommit: false,
        eachBatchAutoResolve: false,
        // Tier partitions mostly sleep; give each its own slot so none waits behind another.
        partitionsConsumedConcurrently: tierTopics.size * config.kafka.partitions,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const tier = tierTopics.get(batch.topic)!;
          const { topic, partition } = batch;
          const w = workerFor('retry', retryConsumer, batch.topic, batch.partition, false);
          for (const m of batch.messages) {
            // Every record of a tier waits the tier's time from when it was written, so
            // due times follow offsets: the first one not due ends the batch.
            const due = Number(m.timestamp) + tier;
            if (due - Date.now() > TIER_EARLY_MS) {
              // Not by sleeping here: kafkajs fetches again only once every batch of the
              // last fetch is done, so one tier's wait (minutes, in the 300 s tier) would
              // hold every other tier's due retries. The partition is paused until due and
              // its unresolved records are fetched again after the resume.
              sleepUntil(retryConsumer, topic, partition, due);
              break;
            }
            while (!w.hasRoom() && !stopping.signal.aborted && !w.signal.aborted) {
              await w.waitForRoom(1000);
              await heartbeat();
            }
            if (!isRunning() || isStale() || w.signal.aborted) return; // unresolved: the next owner resumes here
            const rec = lean(m);
            w.push(Number(m.offset), '', async (ctx) => {
              if (!rec.value) return;
              const d = await steps.decode(topic, partition, rec);
              if (!d) return;
              const dest = byName.get(d.destination);
              if (!dest) {
                await steps.deadLetter(steps.deadDelivery(d, d.attempt, null, `destination "${d.destination}" is no longer configured`));
                return;
              }
              const notBefore = rec.notBefore;
              if (notBefore > Date.now() + 50) return steps.park(d, notBefore); // not yet: next hop down
              dm.retriesDue.inc({ destination: dest.name });
              await steps.unorderedTask(dest, d, true)(ctx);
            });
            resolveOffset(m.offset);
          }
          await heartbeat();
        },
      }, log, 'retries'));
      log.info({ group, destinations: destinations().length, configVersion: live.current().running.label }, 'deliverer consuming');
      return opsAddress;
    },
    close: () => closer.close(log),
  };
}
