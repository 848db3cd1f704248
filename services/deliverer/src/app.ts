// Composition root of the deliverer: deliveries.<destination> → HTTP. The offset of a
// delivery is committed only once the destination answered 2xx (or it was already
// delivered, per the dedup store), so a kill -9 at any moment re-sends, never drops.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Closer, Counter, EnvelopeCodec, kafkaReadyCheck, lagGauge, opsServer, Histogram, createKafka, createMetricsRegistry, ensureTopics, groupId, topicNames,
  type Config, type Delivery, type DestinationConfig, type Logger, type RuntimeEnv, type Service,
} from '@hookyard/core';
import { RedisDedupStore, type DedupStore } from './dedup-store.ts';
import { HttpSender } from './http-sender.ts';

export interface DelivererDeps {
  config: Config;
  env: RuntimeEnv;
  log: Logger;
  dedup?: DedupStore;
}

export function buildDeliverer({ config, env, log, dedup }: DelivererDeps): Service & { metrics: ReturnType<typeof createMetricsRegistry> } {
  const topics = topicNames(config.kafka.topicPrefix);
  const byTopic = new Map<string, DestinationConfig>(config.destinations.map((d) => [topics.delivery(d.name), d]));
  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-deliverer`, log);
  const codec = new EnvelopeCodec(env.registryUrl);
  const consumer = kafka.consumer({ groupId: groupId(config.kafka, 'deliverer'), allowAutoTopicCreation: false, sessionTimeout: config.kafka.sessionTimeoutMs, heartbeatInterval: Math.floor(config.kafka.sessionTimeoutMs / 10) });
  const admin = kafka.admin();
  const store = dedup ?? new RedisDedupStore(env.redisUrl, config.kafka.topicPrefix);
  const sender = new HttpSender();
  const stopping = new AbortController();
  const closer = new Closer();
  const metrics = createMetricsRegistry('deliverer');
  const attempts = new Counter({ name: 'hookyard_deliverer_attempts_total', help: 'Delivery attempts by destination and outcome', labelNames: ['destination', 'outcome'], registers: [metrics] });
  const latency = new Histogram({ name: 'hookyard_deliverer_attempt_seconds', help: 'Attempt latency', labelNames: ['destination'], registers: [metrics] });

  const isDelivered = async (d: Delivery): Promise<boolean> => {
    try {
      return await store.isDelivered(d.destination, d.eventId);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'dedup store unavailable; delivering at-least-once');
      return false;
    }
  };

  async function deliver(dest: DestinationConfig, d: Delivery, heartbeat: () => Promise<void>): Promise<void> {
    if (await isDelivered(d)) {
      attempts.inc({ destination: dest.name, outcome: 'duplicate_skipped' });
      return;
    }
    // Skeleton retry policy: retry in place with capped backoff until success or shutdown.
    // Durable, non-blocking retry topics replace this with the deliverer issue (#5).
    for (let attempt = 0; ; attempt++) {
      // In-flight requests are not aborted on shutdown: close() lets them finish.
      const r = await sender.send(dest, d);
      latency.observe({ destination: dest.name }, r.latencyMs / 1000);
      attempts.inc({ destination: dest.name, outcome: r.ok ? 'success' : r.status ? `http_${Math.floor(r.status / 100)}xx` : 'network' });
      if (r.ok) {
        await store.markDelivered(d.destination, d.eventId).catch((err: Error) => log.warn({ err: err.message }, 'could not record delivery in dedup store'));
        return;
      }
      log.warn({ destination: dest.name, eventId: d.eventId, status: r.status, error: r.error, attempt }, 'delivery attempt failed');
      if (stopping.signal.aborted) throw new Error('shutting down; delivery handed back uncommitted');
      const wait = Math.min(250 * 2 ** attempt, 30_000);
      for (let waited = 0; waited < wait && !stopping.signal.aborted; waited += 1000) {
        await sleep(Math.min(1000, wait - waited), undefined, { signal: stopping.signal }).catch(() => {});
        await heartbeat();
      }
      if (stopping.signal.aborted) throw new Error('shutting down; delivery handed back uncommitted');
    }
  }

  return {
    metrics,
    async start() {
      closer.add('dedup', () => store.close());
      closer.add('http', () => sender.close());
      await admin.connect();
      closer.add('admin', () => admin.disconnect());
      lagGauge(metrics, admin, groupId(config.kafka, 'deliverer'), () => [...byTopic.keys()], 'hookyard_deliverer_consumer_lag');
      await ensureTopics(admin, config.kafka, [...byTopic.keys()]);
      const firstTopic = [...byTopic.keys()][0];
      let opsAddress: string | undefined;
      if (env.metricsPort !== undefined && firstTopic) {
        const ops = opsServer(metrics, kafkaReadyCheck(admin, firstTopic));
        opsAddress = await ops.listen(env.metricsPort);
        closer.add('ops', () => ops.close());
      }
      await consumer.connect();
      closer.add('consumer', () => consumer.disconnect());
      closer.add('stop-retries', () => stopping.abort());
      if (byTopic.size === 0) {
        log.warn('no destinations configured; deliverer idle');
        return opsAddress;
      }
      await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 8,
        eachMessage: async ({ topic, message, heartbeat }) => {
          const dest = byTopic.get(topic);
          if (!dest || !message.value) return;
          const d = await codec.decode<Delivery>(message.value);
          await deliver(dest, d, heartbeat);
        },
      });
      log.info({ group: groupId(config.kafka, 'deliverer'), destinations: config.destinations.length }, 'deliverer consuming');
      return opsAddress;
    },
    close: () => closer.close(log),
  };
}
