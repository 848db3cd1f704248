// The event history's figures, on both stores (npm run bench -- --stages=index):
// 1. catch-up: a backlog of events with their decision, delivery and attempt records in
//    Kafka, the console started as its own process; events indexed per second until its lag
//    is 0, and its CPU seconds per 1,000 events;
// 2. search over a large history: rows written straight into the store, then a full-text
//    query, a filtered query, a JSON-path query and a trace, each timed many times (p50/p95);
// 3. bytes per event on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { stringify } from 'yaml';
import { EnvelopeCodec, ensureTopics, eventId, parseConfig, topicNames, type DeliveryAttempt, type RawEvent, type RoutingDecision, type Delivery } from '../packages/core/src/index.ts';
import { PgStore } from '../services/console/src/store/pg/store.ts';
import { SqliteStore } from '../services/console/src/store/sqlite/store.ts';
import { emptyBatch, type EventQuery, type IndexStore, type WriteBatch } from '../services/console/src/store/driver.ts';
import { scratchDatabase } from '../test/support/postgres.ts';

const root = resolve(import.meta.dirname, '..');
type Addrs = { KAFKA_BROKERS: string; SCHEMA_REGISTRY_URL: string; REDIS_URL: string };
export type StoreKind = 'sqlite' | 'postgres';

export interface IndexStageResult {
  /** The console beside a live pipeline at its maximum, in the same run. */
  live?: Record<StoreKind, LiveResult[]>;
  catchUp: Record<StoreKind, { events: number; records: number; seconds: number; eventsPerSecond: number; cpuSecondsPer1000: number }>;
  search: Record<StoreKind, { events: number; writeEventsPerSecond: number; bytesPerEvent: number; queries: Record<string, { p50: number; p95: number }> }>;
}

export interface LiveResult {
  accepted: number; delivered: number; indexed: number;
  deliveredPerSecond: number; indexedPerSecond: number;
  /** How long after the last delivery the index had every event (s). */
  indexBehindS: number;
  /** Events delivered but not yet indexed: the most while the load ran, and when it stopped. */
  maxLag: number; lagAtLoadEnd: number;
  /** CPU seconds over the run per process, and the console's share of the services' total. */
  cpuSeconds: Record<string, number>; consoleCpuShare: number;
}

/** What the live measurement borrows from bench/run.ts. */
export interface LiveTools {
  startProcess(script: string, env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; url: string }>;
  stop(child: ChildProcess): Promise<void>;
  load(url: string, seconds: number): Promise<{ rps: number; non2xx: number }>;
  duration: number;
}

const body = (i: number) => JSON.stringify({
  id: `evt_${i}`, type: i % 10 === 0 ? 'invoice.payment_failed' : 'invoice.paid',
  data: { object: { customer: `cus_${i % 50_000}`, amount: 1000 + (i % 997), currency: 'usd', lines: [{ sku: `sku_${i % 300}`, qty: 1 + (i % 3) }] } },
  note: 'a webhook body of a realistic size with some words in it for the full-text index to chew on',
});

async function storeFor(kind: StoreKind, dir: string): Promise<{ store: IndexStore; cfg: Record<string, unknown>; drop: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const path = join(dir, `index-${randomBytes(3).toString('hex')}.db`);
    return { store: new SqliteStore({ path }), cfg: { type: 'sqlite', path }, drop: async () => {} };
  }
  const db = await scratchDatabase('hookyard_bench');
  return { store: await PgStore.open({ url: db.url }), cfg: { type: 'postgres', url: db.url }, drop: db.drop };
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** CPU seconds of every PostgreSQL process (the server and its backends) alive now. */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') total += cpuSeconds(Number(pid));
    } catch { /* gone */ }
  }
  return total;
}

/**
 * The indexer beside live traffic: ingress, router, deliverer and the console as their own
 * processes, the pipeline driven at its maximum (closed loop) for the stage's duration, then
 * until every accepted event reached the sink and the index. Events delivered per second
 * against events indexed per second over the same run, and the console's CPU share.
 */
async function live(kind: StoreKind, addrs: Addrs, dir: string, tools: LiveTools): Promise<LiveResult> {
  let received = 0;
  let lastAt = 0;
  const sink = createServer((req, res) => { req.resume(); req.on('end', () => { received++; lastAt = performance.now(); res.writeHead(204).end(); }); });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const { cfg, drop, store } = await storeFor(kind, dir);
  await store.close();
  const token = 'bench-token-0123456789';
  const file = join(dir, `live-${kind}.yaml`);
  writeFileSync(file, stringify({
    kafka: { topicPrefix: `bench-index-live-${kind}-${Date.now()}.`, partitions: 6 },
    sources: [{ name: 'bench', orderingKey: 'body.data.object.customer', eventType: 'body.type' }],
    destinations: [{ name: 'sink', url: `http://127.0.0.1:${(sink.address() as { port: number }).port}/hook` }],
    connections: [{ source: 'bench', destination: 'sink' }],
    console: { store: cfg, apiTokens: [{ name: 'bench', token }] },
  }));
  const env = { ...addrs, HOOKYARD_CONFIG: file, LOG_LEVEL: 'info' };
  const port = 18000 + Math.floor(Math.random() * 1000);
  const consolePort = port + 1000;
  const metrics = 21000 + Math.floor(Math.random() * 400);
  const procs = {
    ingress: await tools.startProcess(join(root, 'services/ingress/src/main.ts'), { ...env, PORT: String(port) }, /"address":"(http:\/\/[^"]+)"/),
    router: await tools.startProcess(join(root, 'services/router/src/main.ts'), { ...env, METRICS_PORT: String(metrics) }, /(router consuming)/),
    deliverer: await tools.startProcess(join(root, 'services/deliverer/src/main.ts'), { ...env, METRICS_PORT: String(metrics + 500) }, /(deliverer consuming)/),
    console: await tools.startProcess(join(root, 'services/console/src/main.ts'), { ...env, PORT: String(consolePort) }, /(console indexing)/),
  };
  try {
    const indexed = async () => {
      const r = await fetch(`http://127.0.0.1:${consolePort}/api/v1/index`, { headers: { authorization: `Bearer ${token}` } }).then((x) => x.json() as Promise<{ events: number; index: { totalLag: number | null } }>, () => null);
      return r ? { events: r.events, caughtUp: r.index.totalLag === 0 } : { events: -1, caughtUp: false };
    };
    const url = `http://127.0.0.1:${port}/webhooks/bench`;
    for (let i = 0; i < 60 && !(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 500));
    // Warm-up (JIT, connections, the first partitions of the store), until all is indexed.
    const w = await tools.load(url, 3);
    for (let i = 0; i < 240; i++) {
      const x = await indexed();
      if (x.caughtUp && x.events >= Math.round(w.rps * 3) * 0.99 && received >= x.events) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const children = Object.entries(procs).map(([n, p]) => [n, p.child.pid!] as const);
    const cpu0 = Object.fromEntries([...children.map(([n, pid]) => [n, cpuSeconds(pid)]), ['postgres', kind === 'postgres' ? postgresCpuSeconds() : 0]]);
    const received0 = received;
    const indexed0 = (await indexed()).events;
    const t0 = performance.now();
    // While the load runs: how far the index trails the sink (events delivered, not indexed).
    let loading = true;
    let maxLag = 0;
    let lagAtLoadEnd = 0;
    const sampler = (async () => {
      while (loading) {
        const x = await indexed();
        if (x.events >= 0) maxLag = Math.max(maxLag, received - received0 - (x.events - indexed0));
        await new Promise((r) => setTimeout(r, 250));
      }
      const x = await indexed();
      lagAtLoadEnd = received - received0 - (x.events - indexed0);
    })();
    const run = await tools.load(url, tools.duration);
    loading = false;
    await sampler;
    const accepted = Math.round(run.rps * tools.duration) - run.non2xx;
    let indexedAt = 0;
    let indexedN = 0;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const x = await indexed();
      // Events in the index against events at the sink (not the API's Kafka lag, which is
      // refreshed every 2 s and would add its own delay).
      if (received - received0 >= accepted * 0.999 && x.events - indexed0 >= received - received0) { indexedAt = performance.now(); indexedN = x.events - indexed0; break; }
      await new Promise((r) => setTimeout(r, 100));
    }
    const cpu1 = Object.fromEntries([...children.map(([n, pid]) => [n, cpuSeconds(pid)]), ['postgres', kind === 'postgres' ? postgresCpuSeconds() : 0]]);
    const cpu = Object.fromEntries(Object.keys(cpu0).map((n) => [n, +(cpu1[n]! - cpu0[n]!).toFixed(1)]));
    const total = Object.values(cpu).reduce((a, b) => a + b, 0);
    const delivered = received - received0;
    return {
      accepted, delivered, indexed: indexedN,
      deliveredPerSecond: Math.round(delivered / ((lastAt - t0) / 1000)),
      indexedPerSecond: indexedAt === 0 ? 0 : Math.round(indexedN / ((indexedAt - t0) / 1000)),
      indexBehindS: indexedAt === 0 ? NaN : +((indexedAt - lastAt) / 1000).toFixed(2), maxLag, lagAtLoadEnd,
      cpuSeconds: cpu, consoleCpuShare: +(((cpu.console ?? 0) + (cpu.postgres ?? 0)) / total).toFixed(3),
    };
  } finally {
    for (const p of Object.values(procs).reverse()) await tools.stop(p.child);
    sink.close();
    await drop();
  }
}

async function catchUp(kind: StoreKind, addrs: Addrs, events: number, dir: string): Promise<IndexStageResult['catchUp'][StoreKind]> {
  const prefix = `bench-index-${kind}-${Date.now()}.`;
  const raw = { kafka: { topicPrefix: prefix, partitions: 6 }, sources: [{ name: 'stripe', eventType: 'body.type', dedupKey: 'body.id' }], destinations: [{ name: 'sink', url: 'http://127.0.0.1:9/' }], connections: [{ source: 'stripe', destination: 'sink' }] };
  const { cfg, drop, store } = await storeFor(kind, dir);
  await store.close();
  const config = parseConfig(stringify({ ...raw, console: { store: cfg } }), {}, 'bench');
  const topics = topicNames(prefix);
  const kafka = new Kafka({ brokers: addrs.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, [topics.rawEvents, topics.decisions, topics.delivery('sink'), topics.attempts]);
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const codec = new EnvelopeCodec(addrs.SCHEMA_REGISTRY_URL);
  const t0 = Date.now() - 3_600_000;
  for (let i = 0; i < events; i += 500) {
    const evs: RawEvent[] = Array.from({ length: Math.min(500, events - i) }, (_, j) => {
      const at = t0 + i + j;
      const id = eventId(at);
      return { id, source: 'stripe', receivedAt: at, method: 'POST', path: '/webhooks/stripe', query: '', headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=x', 'user-agent': 'Stripe/1.0' }, body: Buffer.from(body(i + j)), orderingKey: `cus_${(i + j) % 50_000}`, replayId: null };
    });
    const enc = (topic: string, name: 'raw-event' | 'routing-decision' | 'delivery' | 'delivery-attempt', v: unknown) => codec.encode(topic, name as never, v as never);
    const msgs = async (topic: string, name: 'raw-event' | 'routing-decision' | 'delivery' | 'delivery-attempt', f: (e: RawEvent) => unknown) => ({ topic, messages: await Promise.all(evs.map(async (e) => ({ key: e.orderingKey, value: await enc(topic, name, f(e)) }))) });
    await producer.sendBatch({ acks: -1, topicMessages: [
      await msgs(topics.rawEvents, 'raw-event', (e) => e),
      await msgs(topics.decisions, 'routing-decision', (e): RoutingDecision => ({ eventId: e.id, source: e.source, receivedAt: e.receivedAt, routedAt: e.receivedAt + 5, decisions: [{ destination: 'sink', outcome: 'matched', error: null }], replayId: null })),
      await msgs(topics.delivery('sink'), 'delivery', (e): Delivery => ({ eventId: e.id, source: e.source, destination: 'sink', receivedAt: e.receivedAt, orderingKey: e.orderingKey, headers: {}, body: e.body, attempt: 0, replayId: null })),
      await msgs(topics.attempts, 'delivery-attempt', (e): DeliveryAttempt => ({ eventId: e.id, destination: 'sink', attempt: 1, at: e.receivedAt + 20, status: 200, outcome: 'success', latencyMs: 4, error: null, responseSnippet: 'ok', nextAttemptAt: null })),
    ] });
  }
  await producer.disconnect();
  const file = join(dir, `console-${kind}.yaml`);
  writeFileSync(file, stringify({ ...raw, console: { store: cfg, apiTokens: [{ name: 'bench', token: 'bench-token-0123456789' }] } }));
  const port = 17000 + Math.floor(Math.random() * 1000);
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, 'services/console/src/main.ts')], { env: { ...process.env, ...addrs, HOOKYARD_CONFIG: file, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] });
  const cpu0 = 0;
  let done = false;
  const deadline = Date.now() + 600_000;
  while (!done && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/index`, { headers: { authorization: 'Bearer bench-token-0123456789' } }).then((x) => x.json() as Promise<{ events: number; index: { totalLag: number | null } }>, () => null);
    done = r !== null && r.events >= events && r.index.totalLag === 0;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(child.pid!) - cpu0;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await drop();
  return { events, records: events * 4, seconds: +seconds.toFixed(1), eventsPerSecond: Math.round(events / seconds), cpuSecondsPer1000: +((cpu / events) * 1000).toFixed(3) };
}

async function search(kind: StoreKind, events: number, dir: string): Promise<IndexStageResult['search'][StoreKind]> {
  const { store, drop } = await storeFor(kind, dir);
  const t0 = Date.UTC(2026, 11, 1);
  const span = 86_400_000 * 5; // five days of history
  const started = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < events; i += 2000) {
    const b: WriteBatch = emptyBatch();
    for (let j = i; j < Math.min(events, i + 2000); j++) {
      const at = t0 + Math.floor((j / events) * span);
      const id = eventId(at);
      ids.push(id);
      const source = j % 3 === 0 ? 'github' : 'stripe';
      b.events.push({ id, source, receivedAt: at, method: 'POST', path: `/webhooks/${source}`, query: '', headers: { 'content-type': 'application/json', 'user-agent': 'Stripe/1.0' }, body: Buffer.from(body(j)), bodySize: 300, kafka: { topic: 'raw-events', partition: j % 6, offset: String(j) }, orderingKey: `cus_${j % 50_000}`, eventType: j % 10 === 0 ? 'invoice.payment_failed' : 'invoice.paid', webhookId: `evt_${j}`, replayId: null });
      b.decisions.push({ eventId: id, destination: 'billing', outcome: 'matched', error: null, at: at + 5, replayId: null, configVersion: 'v1' });
      b.deliveries.push({ eventId: id, source, destination: 'billing', receivedAt: at, at: at + 5, replayId: null, kafka: { topic: 'deliveries.billing', partition: j % 6, offset: String(j) } });
      const failed = j % 50 === 0;
      b.attempts.push({ kafka: { topic: 'delivery-attempts', partition: j % 6, offset: String(j) }, eventId: id, destination: 'billing', attempt: 1, at: at + 20, status: failed ? 500 : 200, outcome: failed ? 'dead' : 'success', latencyMs: 5, error: failed ? 'HTTP 500' : null, responseSnippet: '', nextAttemptAt: null });
    }
    await store.write(b);
  }
  if (store instanceof PgStore) await store.idle();
  const writeEventsPerSecond = Math.round(events / ((performance.now() - started) / 1000));
  const stats = await store.stats();
  const time = async (name: string, f: (i: number) => Promise<unknown>, n = 60) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await f(i);
      xs.push(performance.now() - t);
    }
    xs.sort((a, b) => a - b);
    return [name, { p50: +xs[Math.floor(n * 0.5)]!.toFixed(1), p95: +xs[Math.floor(n * 0.95)]!.toFixed(1) }] as const;
  };
  const q = (over: Partial<EventQuery>): EventQuery => ({ match: [], limit: 50, ...over });
  const day = 86_400_000;
  const queries = Object.fromEntries([
    await time('full text (a customer id, any time)', (i) => store.searchEvents(q({ text: `cus_${(i * 7919) % 50_000}` }))),
    await time('full text, two words, one day', (i) => store.searchEvents(q({ text: `sku_${i % 300} usd`, from: t0 + (i % 5) * day, to: t0 + (i % 5 + 1) * day }))),
    await time('filtered: failed invoice.* to billing from stripe, one day', (i) => store.searchEvents(q({ sources: ['stripe'], destinations: ['billing'], states: ['dead'], eventType: 'invoice.*', from: t0 + (i % 5) * day, to: t0 + (i % 5 + 1) * day }))),
    await time('JSON path body.data.object.customer', (i) => store.searchEvents(q({ match: [{ root: 'body', path: ['data', 'object', 'customer'], value: `cus_${(i * 104729) % 50_000}` }] }))),
    await time('trace of one event', (i) => store.trace(ids[(i * 15485863) % ids.length]!)),
    await time('newest page, no filter', () => store.searchEvents(q({}))),
  ]);
  await store.close();
  await drop();
  return { events, writeEventsPerSecond, bytesPerEvent: Math.round(stats.bytes / events), queries };
}

export async function indexStage(addrs: Addrs, quick: boolean, tools: LiveTools): Promise<IndexStageResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hookyard-bench-index-'));
  try {
    const catchUpEvents = quick ? 5_000 : 30_000;
    const searchEvents = quick ? 100_000 : 1_000_000;
    const result = { catchUp: {}, search: {} } as IndexStageResult;
    // Live first, the stores alternating over two rounds; every round is reported.
    result.live = { sqlite: [], postgres: [] };
    for (let r = 0; r < (quick ? 1 : 2); r++) {
      for (const kind of ['sqlite', 'postgres'] as const) {
        const x = await live(kind, addrs, dir, tools);
        result.live[kind].push(x);
        console.error(`index ${kind}: live round ${r + 1}: ${JSON.stringify(x)}`);
      }
    }
    for (const kind of ['sqlite', 'postgres'] as const) {
      result.catchUp[kind] = await catchUp(kind, addrs, catchUpEvents, dir);
      console.error(`index ${kind}: catch-up ${JSON.stringify(result.catchUp[kind])}`);
    }
    for (const kind of ['sqlite', 'postgres'] as const) {
      result.search[kind] = await search(kind, searchEvents, dir);
      console.error(`index ${kind}: search ${JSON.stringify(result.search[kind])}`);
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
