// Composition root of ingress: builds the HTTP app and its Kafka capture path from
// config, without listening. main.ts listens; tests call start() on port 0 or inject().
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import {
  ALERTS_SOURCE, RedisIngressHealth,
  Closer, Counter, EnvelopeCodec, lazyChildLoggerFactory, Gauge, eventId, kafkaReadyCheck, parseStructuredBody, Histogram, HookyardError, createKafka, createMetricsRegistry,
  ensureTopics, keyAt, redactHeaders, topicNames, type Config, type ErrorCode, type Logger, type RawEvent, type RequestView, type RuntimeEnv,
  type SourceConfig,
  durabilityPromise, warnIfInternalStateUnflushed, LiveConfig, fileRunning, type RunningConfig,
} from '@hookyard/core';
import { KafkaCapture, type EventCapture } from './kafka-capture.ts';
import { RedisEdgeDedup, dedupKeyOf, dedupWindowMs, type EdgeDedup } from './edge-dedup.ts';
import { eventTypeMatcher } from './event-type.ts';
import { RedisReceiptChecks, receiptRoutes, type ReceiptChecks } from './receipts.ts';
import { buildVerifier, type Verifier } from './verify/index.ts';
import { clientIp, ipAllowList, trustedProxyList } from './verify/ip-allow.ts';

export type { EventCapture } from './kafka-capture.ts';

interface Runtime {
  running: RunningConfig;
  trusted: ReturnType<typeof trustedProxyList>;
  sources: Map<string, SourceRuntime>;
}

export interface IngressDeps {
  config: Config;
  env: RuntimeEnv;
  log: Logger;
  /** Defaults to Redis at env.redisUrl when any source dedups. */
  dedup?: EdgeDedup;
  /** Clock for timestamp tolerance; tests pin it. */
  now?: () => number;
  /** Defaults to Redis at env.redisUrl when any destination takes receipts. */
  receiptChecks?: ReceiptChecks;
}

interface SourceRuntime {
  config: SourceConfig;
  verify: Verifier;
  ipAllowed: ((ip: string) => boolean) | undefined;
  typeAllowed: ((type: string) => boolean) | undefined;
  needsBody: boolean;
  dedupWindowMs: number;
  refusals: RefusalTarget;
}

/** Who a refusal is recorded under: a source, or a destination's receipts; its own rate of records. */
interface RefusalTarget {
  name: string;
  /** A header holding a credential, redacted too (api-key sources). */
  apiKeyHeader: string | undefined;
  tokens: { tokens: number; at: number };
}

/** The requests counter's outcome per refusal code. */
const REFUSAL_OUTCOMES: Partial<Record<ErrorCode, string>> = {
  UNAUTHORIZED: 'unauthorized', BODY_TOO_LARGE: 'too_large', EVENT_TYPE_NOT_ALLOWED: 'type_not_allowed', BAD_REQUEST: 'bad_request', UNKNOWN_WEBHOOK_ID: 'not_found',
};

export interface Ingress {
  app: FastifyInstance;
  start(opts?: { port?: number; host?: string }): Promise<string>;
  close(): Promise<void>;
}

function headerMap(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = req.headers;
  // for…in, not Object.entries: no array of pairs per request (headers is a plain object).
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function sendError(reply: FastifyReply, err: HookyardError): FastifyReply {
  if (err.retryable) reply.header('retry-after', '5');
  return reply.code(err.status).send(err.toJSON());
}

function refusalTarget(name: string, apiKeyHeader: string | undefined): RefusalTarget {
  // A full bucket: refuse() caps it at the rate the first time.
  return { name, apiKeyHeader, tokens: { tokens: Number.POSITIVE_INFINITY, at: 0 } };
}

export function buildIngress({ config, env, log, dedup, now = Date.now, receiptChecks }: IngressDeps): Ingress {
  const topics = topicNames(config.kafka.topicPrefix);
  // The alerts' source is fed by the console straight into Kafka, never over HTTP.
  /**
   * Sources (verifiers with their secrets, allow lists, limits) as the running config
   * version says; a request looks its source up once, so it is checked by one version.
   * A rotated secret is applied as a list (new and old) and both verify until a later
   * version drops the old one.
   */
  const runtimeOf = (running: RunningConfig, previous?: Runtime): Runtime => ({
    running,
    trusted: trustedProxyList(running.config.ingress.trustedProxies),
    sources: new Map<string, SourceRuntime>(running.config.sources.filter((s) => s.name !== ALERTS_SOURCE).map((s) => {
      const apiKeyHeader = s.verify.type === 'api-key' ? s.verify.header?.toLowerCase() : undefined;
      const kept = previous?.sources.get(s.name)?.refusals;
      return [s.name, {
        config: s,
        verify: buildVerifier(s.verify),
        ipAllowed: s.allowedIps ? ipAllowList(s.allowedIps) : undefined,
        typeAllowed: s.allowedEventTypes ? eventTypeMatcher(s.allowedEventTypes) : undefined,
        needsBody: [s.orderingKey, s.dedupKey, s.eventType, ...(s.dedup?.includeFields ?? []), ...(s.dedup ? ['body'] : [])].some((p) => p?.startsWith('body')),
        dedupWindowMs: dedupWindowMs(s),
        // The refusal records' rate bucket outlives a version.
        refusals: kept && kept.apiKeyHeader === apiKeyHeader ? kept : refusalTarget(s.name, apiKeyHeader),
      }];
    })),
  });
  let rt = runtimeOf(fileRunning(config));
  // Fastify's body limit is fixed at start: the largest source limit of the file. Each
  // source's own limit is checked in the route, so a version may lower it; raising one
  // above this takes a restart (said in the log).
  const maxBody = Math.max(...config.sources.map((s) => s.maxBodyBytes));
  /** The source a request was admitted under (onRequest), so its handler uses the same one. */
  const admitted = new WeakMap<FastifyRequest, SourceRuntime>();
  let edgeStore: EdgeDedup | undefined = dedup;
  const edgeDedup = (): EdgeDedup => (edgeStore ??= new RedisEdgeDedup(env.redisUrl, config.kafka.topicPrefix));
  if (config.sources.some((s) => s.dedupKey || s.dedup)) edgeDedup();
  const closer = new Closer();

  const metrics = createMetricsRegistry('ingress');
  const requests = new Counter({ name: 'hookyard_ingress_requests_total', help: 'Webhook requests by source and outcome', labelNames: ['source', 'outcome'], registers: [metrics] });
  const batchSize = new Histogram({ name: 'hookyard_ingress_produce_batch_size', help: 'Messages per produce request', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000], registers: [metrics] });
  const produceSeconds = new Histogram({ name: 'hookyard_ingress_produce_seconds', help: 'Produce latency (acks=all)', labelNames: ['outcome'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [metrics] });
  const verifyFailures = new Counter({ name: 'hookyard_ingress_verification_failures_total', help: 'Refused requests by source and reason', labelNames: ['source', 'reason'], registers: [metrics] });
  const rejectionsDropped = new Counter({ name: 'hookyard_ingress_rejections_dropped_total', help: 'Refusals not recorded because of the rate limit', labelNames: ['source'], registers: [metrics] });
  const inFlight = new Gauge({ name: 'hookyard_ingress_in_flight', help: 'Webhook requests being handled', registers: [metrics] });

  const kafka = createKafka(env.brokers, `${config.kafka.clientId}-ingress`, log);
  const newProducer = () => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 } });
  const producer = newProducer();
  const admin = kafka.admin();
  const codec = new EnvelopeCodec(env.registryUrl);
  const live = new LiveConfig<Runtime>({ kafka, file: config, log, metrics, topic: topics.configVersions, build: (running) => runtimeOf(running, rt) });
  live.onSwitch((running, runtime) => {
    rt = runtime;
    const over = running.config.sources.filter((s) => s.maxBodyBytes > maxBody).map((s) => s.name);
    if (over.length > 0) log.warn({ sources: over, limitBytes: maxBody }, 'these sources\' maxBodyBytes exceed the limit this ingress started with; it applies after a restart');
  });
  // /readyz may be polled often: one metadata call per second at most.
  const metadataCheck = kafkaReadyCheck(admin, topics.rawEvents);
  let lastReady = { at: 0, ok: false };
  const kafkaReachable = async (): Promise<boolean> => {
    if (Date.now() - lastReady.at >= 1000) lastReady = { at: Date.now(), ok: await metadataCheck() };
    return lastReady.ok;
  };
  const kafkaCapture = new KafkaCapture({
    producer, newProducer, log, codec, rawTopic: topics.rawEvents, rejectionsTopic: topics.rejections, receiptsTopic: topics.receipts,
    timeoutMs: config.kafka.produceTimeoutMs, readyCheck: kafkaReachable, metrics: { batchSize, produceSeconds },
  });
  const capture: EventCapture = kafkaCapture;

  /** Answers a refusal, and records it in ingress-rejections within the source's rate. */
  const refuse = (reply: FastifyReply, req: FastifyRequest, to: RefusalTarget, code: ErrorCode, reason: string, body?: Buffer): FastifyReply => {
    const err = new HookyardError(code);
    requests.inc({ source: to.name, outcome: REFUSAL_OUTCOMES[code] ?? 'refused' });
    verifyFailures.inc({ source: to.name, reason });
    const t = now();
    const bucket = to.tokens;
    const rate = rt.running.config.ingress.rejectionsPerSecond;
    bucket.tokens = Math.min(rate, bucket.tokens + ((t - bucket.at) / 1000) * rate);
    bucket.at = t;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      capture.reject({
        source: to.name, receivedAt: t, status: err.status, code, reason, method: req.method,
        path: (req.raw.url ?? req.url).split('?')[0] ?? '', remoteIp: req.ip,
        headers: redactHeaders(headerMap(req), to.apiKeyHeader ? [to.apiKeyHeader] : []),
        bodySize: body?.length ?? Number(req.headers['content-length'] ?? 0),
        bodySha256: body ? createHash('sha256').update(body).digest('hex') : null,
      }).catch((e: Error) => log.debug({ err: e.message }, 'could not record rejection'));
    } else {
      rejectionsDropped.inc({ source: to.name });
    }
    if (code === 'BODY_TOO_LARGE') reply.header('connection', 'close');
    return sendError(reply, err);
  };

  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, childLoggerFactory: lazyChildLoggerFactory as never, bodyLimit: maxBody, logController: new LogController({ disableRequestLogging: true }), return503OnClosing: true });
  // Signatures are computed over bytes: never let a parser re-serialise the body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ok = await capture.ready();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', kafka: ok, durability: durabilityPromise(config.kafka), configVersion: rt.running.label });
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  // 503s are counted in Redis for the console's "ingress" issue (and alert); connected at the first.
  let health: RedisIngressHealth | undefined;
  const takesReceipts = config.destinations.some((d) => d.receipts);
  const checks = takesReceipts ? (receiptChecks ?? new RedisReceiptChecks(env.redisUrl, config.kafka.topicPrefix)) : undefined;
  if (checks) {
    // A receipt's refusals are recorded like a source's, under "receipts:<destination>".
    const receiptTargets = new Map<string, RefusalTarget>();
    receiptRoutes(app, {
      config, checks, metrics, now,
      capture: (r) => kafkaCapture.receipt(r),
      refuse: (reply, req, name, code, reason, body) => {
        let to = receiptTargets.get(name);
        if (!to) receiptTargets.set(name, to = refusalTarget(`receipts:${name}`, undefined));
        return refuse(reply, req, to, code, reason, body);
      },
    });
  }

  app.post<{ Params: { source: string } }>('/webhooks/:source', {
    // A callback hook, not an async one: no promise per request on the hot path. A refusal
    // answers here and does not call done(), so the body is never read.
    onRequest: (req, reply, done) => {
      // Node's parser accepts an HTTP/0.9 request line (no version, no headers): what
      // follows it on the connection is then parsed as a second request, and the first
      // would be captured as an empty POST the sender never meant. Providers speak 1.x.
      if (req.raw.httpVersionMajor < 1) {
        requests.inc({ source: '_invalid', outcome: 'bad_request' });
        reply.header('connection', 'close');
        sendError(reply, new HookyardError('BAD_REQUEST', 'HTTP/1.0 or later is required'));
        return;
      }
      const src = rt.sources.get(req.params.source);
      if (!src) {
        requests.inc({ source: '_unknown', outcome: 'not_found' });
        sendError(reply, new HookyardError('SOURCE_NOT_FOUND', `unknown source "${req.params.source}"`));
        return;
      }
      // Both refusals happen before a byte of the body is read.
      if (src.ipAllowed && !src.ipAllowed(clientIp(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'] as string | undefined, rt.trusted))) {
        refuse(reply, req, src.refusals, 'UNAUTHORIZED', 'ip_not_allowed');
        return;
      }
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > src.config.maxBodyBytes) {
        refuse(reply, req, src.refusals, 'BODY_TOO_LARGE', 'body_too_large');
        return;
      }
      admitted.set(req, src);
      done();
    },
  }, async (req, reply) => {
    const src = admitted.get(req)!;
    const source = src.config;
    inFlight.inc();
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length > source.maxBodyBytes) return refuse(reply, req, src.refusals, 'BODY_TOO_LARGE', 'body_too_large', body);
      const rawUrl = req.raw.url ?? req.url;
      const q = rawUrl.indexOf('?');
      const headers = headerMap(req);
      const query = q >= 0 ? rawUrl.slice(q + 1) : '';
      const t = now();
      const publicBase = source.publicUrl?.replace(/\/$/, '') ?? `${headers['x-forwarded-proto'] ?? req.protocol}://${headers.host ?? 'localhost'}`;
      const input = { body, headers, method: req.method, url: `${publicBase}${rawUrl}`, rawQuery: query, nowMs: t };
      let verdict = src.verify(input);
      // A gzip body may be signed compressed or as sent before compression: accept either.
      let plain = body;
      if (headers['content-encoding']?.toLowerCase() === 'gzip') {
        try {
          plain = gunzipSync(body, { maxOutputLength: 10 * 1024 * 1024 });
          if (!verdict.ok && verdict.reason === 'bad_signature') verdict = src.verify({ ...input, body: plain });
        } catch {
          plain = body;
        }
      }
      if (!verdict.ok) return refuse(reply, req, src.refusals, 'UNAUTHORIZED', verdict.reason, body);
      const id = eventId(t);
      const view: RequestView = {
        body: src.needsBody ? parseStructuredBody(plain, headers['content-type']) : undefined,
        headers,
        query: req.query as Record<string, string>,
        path: q >= 0 ? rawUrl.slice(0, q) : rawUrl,
      };
      if (src.typeAllowed) {
        const type = source.eventType ? keyAt(view, source.eventType) : undefined;
        if (type === undefined || !src.typeAllowed(type)) return refuse(reply, req, src.refusals, 'EVENT_TYPE_NOT_ALLOWED', 'event_type_not_allowed', body);
      }
      const dedupKey = source.dedupKey || source.dedup ? dedupKeyOf(source, view, plain) : undefined;
      const edge = dedupKey ? edgeDedup() : undefined;
      if (edge && dedupKey) {
        const original = await edge.seen(source.name, dedupKey).catch((err: Error) => {
          log.warn({ err: err.message }, 'edge dedup unavailable; accepting');
          return undefined;
        });
        if (original) {
          requests.inc({ source: source.name, outcome: 'duplicate' });
          return reply.code(200).send({ id: original, duplicate: true });
        }
      }
      const event: RawEvent = {
        id,
        source: source.name,
        receivedAt: t,
        method: req.method,
        path: view.path,
        query,
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
        (health ??= new RedisIngressHealth(env.redisUrl, config.kafka.topicPrefix)).mark();
        return sendError(reply, e);
      }
      // Only after the ack: a failed produce must never mark the event as seen.
      if (edge && dedupKey) {
        await edge.remember(source.name, dedupKey, id, src.dedupWindowMs).catch((err: Error) => log.warn({ err: err.message }, 'could not record edge dedup key'));
      }
      requests.inc({ source: source.name, outcome: 'accepted' });
      return reply.code(202).send({ id });
    } finally {
      inFlight.dec();
    }
  });

  let started = false;
  return {
    app,
    async start({ port = env.port, host = '0.0.0.0' } = {}) {
      started = true;
      closer.add('edge-dedup', async () => edgeStore?.close());
      if (checks) closer.add('receipt-checks', () => checks.close());
      closer.add('ingress-health', async () => health?.close());
      closer.add('producer', () => kafkaCapture.producer.disconnect());
      closer.add('admin', () => admin.disconnect());
      closer.add('config', () => live.close());
      // Ingress comes up even when Kafka is down: it answers 503 until the broker is back.
      const connect = async () => {
        await admin.connect();
        await ensureTopics(admin, config.kafka, [topics.rawEvents, topics.rejections, ...(checks ? [topics.receipts] : [])]);
        warnIfInternalStateUnflushed(admin, config.kafka, log);
        await codec.schemaId(topics.rawEvents, 'raw-event');
        await codec.schemaId(topics.rejections, 'ingress-rejection');
        if (checks) await codec.schemaId(topics.receipts, 'receipt');
        await producer.connect();
        await live.start(admin);
      };
      try {
        await connect();
      } catch (err) {
        log.error({ err: (err as Error).message }, 'Kafka or registry not reachable at start; answering 503 until it is');
        const retry = setInterval(() => {
          connect().then(() => { clearInterval(retry); log.info('Kafka reachable; capturing'); }, () => { /* next tick */ });
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
        await health?.close();
        return;
      }
      // app.close() stops intake and waits for in-flight requests (their produces) first.
      await closer.close(log);
    },
  };
}
