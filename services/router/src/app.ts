// Composition root of the router: raw-events → deliveries.<destination>, same key.
import {
  Closer, Counter, EnvelopeCodec, createKafka, createMetricsRegistry, ensureTopics, groupId, topicNames,
  type Config, type Logger, type RawEvent, type RuntimeEnv, type Service,
} from '@hookyard/core';
import { route, routeTable } from './routes.ts';

export interface RouterDeps {
  config: Config;
  env: RuntimeEnv;
  log: Logger;
}

export function buildRouter({ config, env, log }: RouterDeps): Service & { metrics: ReturnType<typeof createMetricsRegistry> } {
  const topics = topicNames(config.kafka.topicPrefix);
  const table = routeTable(config);
  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-router`, log);
  const codec = new EnvelopeCodec(env.registryUrl);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId: groupId(config.kafka, 'router'), allowAutoTopicCreation: false, sessionTimeout: config.kafka.sessionTimeoutMs, heartbeatInterval: Math.floor(config.kafka.sessionTimeoutMs / 10) });
  const admin = kafka.admin();
  const closer = new Closer();
  const metrics = createMetricsRegistry('router');
  const eventsIn = new Counter({ name: 'hookyard_router_events_total', help: 'Raw events consumed', labelNames: ['source'], registers: [metrics] });
  const fannedOut = new Counter({ name: 'hookyard_router_deliveries_total', help: 'Deliveries produced', labelNames: ['destination'], registers: [metrics] });

  return {
    metrics,
    async start() {
      await admin.connect();
      closer.add('admin', () => admin.disconnect());
      await ensureTopics(admin, config.kafka, [topics.rawEvents, ...config.destinations.map((d) => topics.delivery(d.name))]);
      await producer.connect();
      closer.add('producer', () => producer.disconnect());
      await consumer.connect();
      closer.add('consumer', () => consumer.disconnect());
      await consumer.subscribe({ topic: topics.rawEvents, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 3,
        // The offset is committed only after eachMessage resolves, i.e. after every
        // fan-out record was acked: a crash re-routes, never skips.
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          const event = await codec.decode<RawEvent>(message.value);
          eventsIn.inc({ source: event.source });
          const deliveries = route(table, event);
          if (deliveries.length === 0) return;
          const topicMessages = await Promise.all(deliveries.map(async (d) => {
            const topic = topics.delivery(d.destination);
            return { topic, messages: [{ key: d.orderingKey, value: await codec.encode(topic, 'delivery', d), timestamp: message.timestamp }] };
          }));
          await producer.sendBatch({ acks: -1, topicMessages });
          for (const d of deliveries) fannedOut.inc({ destination: d.destination });
        },
      });
      log.info({ group: groupId(config.kafka, 'router') }, 'router consuming');
    },
    close: () => closer.close(log),
  };
}
