// Composition root of ingress: builds the HTTP app and its Kafka capture path from
// config, without listening. main.ts listens; tests call start() on port 0 or inject().
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import type { Producer } from 'kafkajs';
import {
  BatchingProducer, Closer, Counter, EnvelopeCodec, Histogram, HookyardError, createKafka, createMetricsRegistry,
  ensureTopics, keyAt, topicNames, type Config, type Logger, type RawEvent, type RequestView, type RuntimeEnv,
  type SourceConfig,
} from '@hookyard/core';

/** What the HTTP layer needs from Kafka: capture one event durably, and say if it can. */
export interface EventCapture {
  capture(event: RawEvent): Promise<void>;
  ready(): Promise<boolean>;
}

export interface IngressDeps {
  config: Config;
  env: RuntimeEnv;
  log: Logger;
}

export interface Ingress {
  app: FastifyInstance;
  start(opts?: { port?: number; host?: string }): Promise<string>;
  close(): Promise<void>;
}

function headerMap(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Parses the body only when a config path needs to look inside it. */
function bodyView(body: Buffer, contentType: string | undefined): unknown {
  const ct = (contentType ?? '').toLowerCase();
  try {
    if (ct.includes('json') || ct === '') return JSON.parse(body.toString('utf8'));
    if (ct.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  } catch {
    return undefined;
  }
  return undefined;
}

function sendError(reply: FastifyReply, err: HookyardError): FastifyReply {
  if (err.code === 'CAPTURE_UNAVAILABLE' || err.code === 'NOT_READY') reply.header('retry-after', '5');
  return reply.code(err.status).send(err.toJSON());
}

class KafkaCapture implements EventCapture {
  private connected = false;
  private readonly batcher: BatchingProducer;
  private readonly codec: EnvelopeCodec;
  private readonly topic: string;
  private readonly timeoutMs: number;
  private readonly readyCheck: () => Promise<boolean>;
  constructor(
    producer: Producer,
    codec: EnvelopeCodec,
    topic: string,
    timeoutMs: number,
    readyCheck: () => Promise<boolean>,
    metrics: { batchSize: Histogram; produceSeconds: Histogram },
  ) {
    this.codec = codec;
    this.topic = topic;
    this.timeoutMs = timeoutMs;
    this.readyCheck = readyCheck;
    this.batcher = new BatchingProducer(producer, { maxBatch: 1000, timeoutMs });
    this.batcher.onBatch = (size, ms, ok) => {
      metrics.batchSize.observe(size);
      metrics.produceSeconds.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000);
    };
    producer.on(producer.events.CONNECT, () => { this.connected = true; });
    producer.on(producer.events.DISCONNECT, () => { this.connected = false; });
  }

  async capture(event: RawEvent): Promise<void> {
    if (!this.connected) throw new HookyardError('CAPTURE_UNAVAILABLE', 'Kafka is not connected');
    const value = await this.codec.encode(this.topic, 'raw-event', event);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HookyardError('CAPTURE_UNAVAILABLE', 'Kafka did not acknowledge in time')), this.timeoutMs);
    });
    try {
      await Promise.race([this.batcher.send(this.topic, { key: event.orderingKey, value, timestamp: String(event.receivedAt) }), deadline]);
    } catch (err) {
      throw err instanceof HookyardError ? err : new HookyardError('CAPTURE_UNAVAILABLE', undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  ready(): Promise<boolean> {
    return this.connected ? this.readyCheck() : Promise.resolve(false);
  }
}

export function buildIngress({ config, env, log }: IngressDeps): Ingress {
  const topics = topicNames(config.kafka.topicPrefix);
  const sources = new Map<string, SourceConfig>(config.sources.map((s) => [s.name, s]));
  const maxBody = Math.max(...config.sources.map((s) => s.maxBodyBytes));
  const closer = new Closer();

  const metrics = createMetricsRegistry('ingress');
  const requests = new Counter({ name: 'hookyard_ingress_requests_total', help: 'Webhook requests by source and outcome', labelNames: ['source', 'outcome'], registers: [metrics] });
  const batchSize = new Histogram({ name: 'hookyard_ingress_produce_batch_size', help: 'Messages per produce request', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000], registers: [metrics] });
  const produceSeconds = new Histogram({ name: 'hookyard_ingress_produce_seconds', help: 'Produce latency (acks=all)', labelNames: ['outcome'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [metrics] });

  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-ingress`, log);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  const codec = new EnvelopeCodec(env.registryUrl);
  let lastReady = { at: 0, ok: false };
  const kafkaReachable = async (): Promise<boolean> => {
    if (Date.now() - lastReady.at < 1000) return lastReady.ok;
    let ok = false;
    try {
      const meta = await Promise.race([
        admin.fetchTopicMetadata({ topics: [topics.rawEvents] }),
        new Promise<never>((_, r) => setTimeout(() => r(new Error('timeout')), 2000).unref()),
      ]);
      ok = meta.topics[0]?.partitions.every((p) => p.leader >= 0) ?? false;
    } catch {
      ok = false;
    }
    lastReady = { at: Date.now(), ok };
    return ok;
  };
  const capture: EventCapture = new KafkaCapture(producer, codec, topics.rawEvents, config.kafka.produceTimeoutMs, kafkaReachable, { batchSize, produceSeconds });

  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, bodyLimit: maxBody, logController: new LogController({ disableRequestLogging: true }), return503OnClosing: true });
  // Signatures are computed over bytes: never let a parser re-serialise the body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ok = await capture.ready();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', kafka: ok });
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  app.post<{ Params: { source: string } }>('/webhooks/:source', {
    onRequest: async (req, reply) => {
      const source = sources.get(req.params.source);
      if (!source) {
        requests.inc({ source: '_unknown', outcome: 'not_found' });
        return sendError(reply, new HookyardError('SOURCE_NOT_FOUND', `unknown source "${req.params.source}"`));
      }
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > source.maxBodyBytes) {
        requests.inc({ source: source.name, outcome: 'too_large' });
        reply.header('connection', 'close');
        return sendError(reply, new HookyardError('BODY_TOO_LARGE'));
      }
      return undefined;
    },
  }, async (req, reply) => {
    const source = sources.get(req.params.source)!;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (body.length > source.maxBodyBytes) {
      requests.inc({ source: source.name, outcome: 'too_large' });
      return sendError(reply, new HookyardError('BODY_TOO_LARGE'));
    }
    if (source.verify.type !== 'none') {
      // Verifiers land with the ingress issue; refusing is the only safe answer until then.
      requests.inc({ source: source.name, outcome: 'unauthorized' });
      return sendError(reply, new HookyardError('UNAUTHORIZED'));
    }
    const id = uuidv7();
    const rawUrl = req.raw.url ?? req.url;
    const q = rawUrl.indexOf('?');
    const headers = headerMap(req);
    const view: RequestView = {
      body: source.orderingKey?.startsWith('body') ? bodyView(body, headers['content-type']) : undefined,
      headers,
      query: req.query as Record<string, string>,
      path: q >= 0 ? rawUrl.slice(0, q) : rawUrl,
    };
    const event: RawEvent = {
      id,
      source: source.name,
      receivedAt: Date.now(),
      method: req.method,
      path: view.path,
      query: q >= 0 ? rawUrl.slice(q + 1) : '',
      headers,
      body,
      orderingKey: (source.orderingKey ? keyAt(view, source.orderingKey) : undefined) ?? id,
      replayId: null,
    };
    try {
      await capture.capture(event);
    } catch (err) {
      const e = err instanceof HookyardError ? err : new HookyardError('CAPTURE_UNAVAILABLE', undefined, { cause: err });
      req.log.warn({ err: (e.cause as Error | undefined)?.message ?? e.message, source: source.name }, 'capture failed');
      requests.inc({ source: source.name, outcome: 'unavailable' });
      return sendError(reply, e);
    }
    requests.inc({ source: source.name, outcome: 'accepted' });
    return reply.code(202).send({ id });
  });

  let started = false;
  return {
    app,
    async start({ port = env.port, host = '0.0.0.0' } = {}) {
      started = true;
      closer.add('producer', () => producer.disconnect());
      closer.add('admin', () => admin.disconnect());
      // Ingress comes up even when Kafka is down: it answers 503 until the broker is back.
      try {
        await admin.connect();
        await ensureTopics(admin, config.kafka, [topics.rawEvents]);
        await codec.schemaId(topics.rawEvents, 'raw-event');
        await producer.connect();
      } catch (err) {
        log.error({ err: (err as Error).message }, 'Kafka or registry not reachable at start; answering 503 until it is');
        const retry = setInterval(() => {
          void (async () => {
            try {
              await admin.connect();
              await ensureTopics(admin, config.kafka, [topics.rawEvents]);
              await codec.schemaId(topics.rawEvents, 'raw-event');
              await producer.connect();
              clearInterval(retry);
              log.info('Kafka reachable; capturing');
            } catch { /* next tick */ }
          })();
        }, 2000);
        retry.unref();
        closer.add('reconnect', () => clearInterval(retry));
      }
      closer.add('http', () => app.close());
      return app.listen({ port, host });
    },
    async close() {
      if (!started) {
        await app.close();
        return;
      }
      // app.close() stops intake and waits for in-flight requests (their produces) first.
      await closer.close(log);
    },
  };
}
