// Composition root of the console: the indexer (Kafka → the event history), the query API
// and the retention sweep, wired from the config. Nothing listens until start().
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  Closer, Counter, DestinationStateStore, RedisIngressHealth, EnvelopeCodec, RedisProtectionStore, createKafka, createMetricsRegistry, ensureTopics, groupId, kafkaReadyCheck, lazyChildLoggerFactory, parseDuration, topicNames,
  LiveConfig, VERSIONED_SECTIONS, type Config, type Logger, type RuntimeEnv, type Service,
} from '@hookyard/core';
import { tokenCheck } from './api/auth.ts';
import { apiRoutes } from './api/routes.ts';
import { Freshness } from './freshness.ts';
import { SlaWatch } from './sla.ts';
import { BacklogWatch } from './backlog-watch.ts';
import { DestinationWatch } from './destination-watch.ts';
import { RecoveryWatch } from './recovery.ts';
import { AlertPublisher } from './alert-publisher.ts';
import { Indexer, indexedTopics } from './indexer.ts';
import { KafkaRedisLive } from './live.ts';
import { openStore } from './store/open.ts';
import type { IndexStore, IssueChange } from './store/driver.ts';
import { Operations } from './web/operations.ts';
import { pages } from './web/pages.ts';
import { sessions, webPlumbing } from './web/plugin.ts';
import { Users } from './web/users.ts';

export interface ConsoleDeps {
  config: Config;
  env: RuntimeEnv;
  log: Logger;
}

const RETENTION_SWEEP_MS = 10 * 60_000;

export interface Console extends Service {
  app: FastifyInstance;
  store(): IndexStore | undefined;
  freshness: Freshness;
  /** Resolves with the API's address once it listens and the indexer consumes. */
  start(opts?: { port?: number; host?: string }): Promise<string>;
}

export function buildConsole({ config: file, env, log }: ConsoleDeps): Console {
  // The console's own copy: an applied config version replaces its routing sections in
  // place, and everything here reads them when it runs (the index, pages, watches).
  const config: Config = { ...file };
  const topics = topicNames(config.kafka.topicPrefix);
  const group = groupId(config.kafka, 'console');
  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-console`, log);
  const admin = kafka.admin();
  const codec = new EnvelopeCodec(env.registryUrl);
  const metrics = createMetricsRegistry('console');
  const closer = new Closer();
  const indexed = () => [...indexedTopics(config, topics).keys()];
  const freshness = new Freshness(admin, group, indexed, metrics, log);
  const versions = new LiveConfig<null>({ kafka, file, log, metrics, topic: topics.configVersions, build: () => null });
  const states = new DestinationStateStore(kafka, config.kafka, topics.destinationState);
  const protection = new RedisProtectionStore(env.redisUrl, config.kafka.topicPrefix);
  const live = new KafkaRedisLive(config, states, protection);
  let store: IndexStore | undefined;
  const ready = kafkaReadyCheck(admin, topics.rawEvents);
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, childLoggerFactory: lazyChildLoggerFactory as never, logController: new LogController({ disableRequestLogging: true }), return503OnClosing: true });
  app.get('/healthz', async () => ({ status: 'ok' }));
  // Ready: Kafka answers and the store is open (an index lagging far behind is still ready: /api/v1 says how far).
  app.get('/readyz', async (_req, reply) => {
    const ok = store !== undefined && (await ready());
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', index: freshness.current(), configVersion: versions.started ? versions.current().running.label : null });
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  const issuesChanged = new Counter({ name: 'hookyard_issues_changed_total', help: 'Issues opened or reopened, by kind', labelNames: ['kind', 'change'], registers: [metrics] });
  const issueChanges = (changes: IssueChange[]) => {
    for (const c of changes) {
      issuesChanged.inc({ kind: c.issue.kind, change: c.change });
      log.warn({ issue: c.issue.id, kind: c.issue.kind, title: c.issue.title, count: c.issue.count }, `issue ${c.change}`);
    }
  };
  const users = new Users(config);
  const ops = new Operations(config, env);
  void app.register(sessions, { config, users });
  apiRoutes(app, { store: s, live, freshness: () => freshness.current(), check: tokenCheck(config.console.apiTokens) });
  // The web console: its own context (error pages, CSRF, forms), beside the API.
  void app.register(async (web) => {
    await webPlumbing(web, { users, config });
    pages(web, { store: s, live, freshness: () => freshness.current(), config, ops });
  });
  function s(): IndexStore {
    if (!store) throw Object.assign(new Error('the index is starting'), { statusCode: 503 });
    return store;
  }
  if (config.console.apiTokens.length === 0) log.warn('console.apiTokens is empty: the query API refuses every request until a token is configured');
  if (config.console.users.length === 0) log.warn('console.users is empty: nobody can log in to the web console (hookyard password-hash makes a hash)');
  else if (config.console.sessionKey === '') log.warn('console.sessionKey is not set: sessions end when the console restarts and are not shared between replicas');

  return {
    app,
    store: () => store,
    freshness,
    async start({ port = env.port, host = config.console.host }: { port?: number; host?: string } = {}) {
      closer.add('protection', () => protection.close());
      closer.add('operations', () => ops.close());
      await admin.connect();
      closer.add('admin', () => admin.disconnect());
      // The console may start before the services that create these.
      await versions.start(admin);
      closer.add('config', () => versions.close());
      const adopt = (c: Config) => { for (const k of VERSIONED_SECTIONS) (config as Record<string, unknown>)[k] = c[k]; };
      adopt(versions.current().running.config);
      await ensureTopics(admin, config.kafka, indexed());
      store = await openStore(config.console.store);
      const opened = store;
      closer.add('store', () => opened.close());
      await states.start(admin, log);
      closer.add('destination-state', () => states.close());
      closer.add('http', () => app.close());
      const address = await app.listen({ port, host });
      const indexer = new Indexer({ config, kafka, admin, codec, store, topics, group, log, metrics, onIssues: issueChanges });
      await indexer.start();
      closer.add('indexer', () => indexer.close());
      versions.onSwitch((running) => {
        adopt(running.config);
        void ensureTopics(admin, config.kafka, indexed()).then(() => indexer.follow(), (err: unknown) => log.error({ err: (err as Error).message }, 'could not create the new topics'));
      });
      freshness.start();
      closer.add('freshness', () => freshness.stop());
      const retentionMs = parseDuration(config.console.retention);
      const sweep = () => {
        opened.prune(Date.now() - retentionMs).then(
          (r) => { if (r.events > 0 || r.rejections > 0) log.info({ ...r, retention: config.console.retention }, 'index retention: dropped old events'); },
          (err: unknown) => log.error({ err: (err as Error).message }, 'index retention sweep failed'),
        );
      };
      sweep();
      const timer = setInterval(sweep, RETENTION_SWEEP_MS);
      timer.unref();
      closer.add('retention', () => clearInterval(timer));
      const sla = new SlaWatch(config, opened, log, metrics, retentionMs);
      sla.onIssues = issueChanges;
      sla.start();
      closer.add('receipts-sla', () => sla.stop());
      const backlog = new BacklogWatch(config, opened, ops, issueChanges, log);
      backlog.start();
      closer.add('backlog-watch', () => backlog.stop());
      const ingressHealth = new RedisIngressHealth(env.redisUrl, config.kafka.topicPrefix);
      closer.add('ingress-health', () => ingressHealth.close());
      const watch = new DestinationWatch(config, opened, live, issueChanges, log, ingressHealth);
      watch.start();
      closer.add('destination-watch', () => watch.stop());
      const recovery = new RecoveryWatch(config, opened, log);
      recovery.start();
      closer.add('recovery-watch', () => recovery.stop());
      // Alerts: issue changes from the store's outbox into the hookyard-alerts source.
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await producer.connect();
      closer.add('alerts-producer', () => producer.disconnect());
      if (config.alerts.channels.length > 0) await codec.schemaId(topics.rawEvents, 'raw-event');
      const alerts = new AlertPublisher({ config, store: opened, producer, codec, rawTopic: topics.rawEvents, log, metrics });
      alerts.start();
      closer.add('alerts', () => alerts.stop());
      log.info({ group, store: config.console.store.type }, 'console indexing');
      return address;
    },
    close: () => closer.close(log),
  };
}
