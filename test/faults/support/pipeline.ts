// The whole pipeline as separate processes (ingress, router, deliverer) against real
// Kafka, Redis and the registry, ledger sinks for each destination, and the check of the
// sinks' ledgers against what ingress accepted.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { Kafka, logLevel } from 'kafkajs';
import type { StackAddresses } from '../../../scripts/infra/local-stack.ts';
import { repoRoot } from '../../support/stack.ts';
import { uniquePrefix } from '../../support/infra.ts';
import { startLedgerSink, type LedgerSink } from './ledger-sink.ts';
import { startLoad, type Accepted, type Load, type LoadOptions } from './load.ts';

export const SWH_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export type ServiceName = 'ingress' | 'router' | 'deliverer';
const READY: Record<ServiceName, string> = { ingress: 'ingress started', router: 'router consuming', deliverer: 'deliverer consuming' };

export interface DestinationSpec {
  name: string;
  ordering?: 'unordered' | 'per-key';
  /** Sources connected to it (default: every source). */
  sources?: string[];
  timeoutMs?: number;
  /** A connection filter on the event body, and the same rule for the expected-deliveries count. */
  filter?: { rule: Record<string, unknown>; accepts: (a: Accepted) => boolean };
}

export interface PipelineOptions {
  scenario: string;
  addrs: StackAddresses;
  destinations?: DestinationSpec[];
  partitions?: number;
  replicationFactor?: number;
  /** Extra config merged into the top level (deliverer, kafka…). */
  extra?: { kafka?: Record<string, unknown>; deliverer?: Record<string, unknown> };
}

export interface ServiceProc {
  name: ServiceName;
  child: ChildProcess | undefined;
  starts: number;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export const DEFAULT_DESTINATIONS: DestinationSpec[] = [
  { name: 'all', ordering: 'unordered' },
  { name: 'keyed', ordering: 'per-key' },
];

export const SOURCES = [
  { name: 'alpha' },
  { name: 'beta', standardWebhooksSecret: SWH_SECRET },
];

export class Pipeline {
  readonly dir: string;
  readonly sinks = new Map<string, LedgerSink>();
  readonly services = new Map<ServiceName, ServiceProc>();
  readonly heals: number[] = [];
  readonly faults: { at: number; what: string }[] = [];
  ingressPort = 0;
  metricsPorts = new Map<ServiceName, number>();
  configFile = '';
  raw: Record<string, unknown> = {};
  load: Load | undefined;
  private env: Record<string, string> = {};

  readonly o: PipelineOptions;

  constructor(o: PipelineOptions) {
    this.o = o;
    this.dir = mkdtempSync(join(tmpdir(), `hookyard-fault-${o.scenario}-`));
  }

  get destinations(): DestinationSpec[] {
    return this.o.destinations ?? DEFAULT_DESTINATIONS;
  }

  async setUp(): Promise<void> {
    for (const d of this.destinations) this.sinks.set(d.name, await startLedgerSink(d.name));
    const retry = { schedule: [0, 500, 1000, 2000, 4000, ...Array<number>(60).fill(5000)] };
    this.raw = {
      kafka: {
        topicPrefix: uniquePrefix(this.o.scenario), partitions: this.o.partitions ?? 3, replicationFactor: this.o.replicationFactor ?? 1,
        sessionTimeoutMs: 6000, ...this.o.extra?.kafka,
      },
      deliverer: { shutdownTimeoutMs: 10_000, ...this.o.extra?.deliverer },
      sources: [
        { name: 'alpha', orderingKey: 'body.key', dedupKey: 'body.uid' },
        { name: 'beta', orderingKey: 'body.key', dedupKey: 'headers.webhook-id', verify: { type: 'standard-webhooks', secret: SWH_SECRET } },
      ],
      destinations: this.destinations.map((d) => ({
        name: d.name, url: this.sinks.get(d.name)!.url, ordering: d.ordering ?? 'unordered', retry,
        timeoutMs: d.timeoutMs ?? 10_000,
        breaker: { consecutiveFailures: 20, cooldownMs: 2000 },
      })),
      connections: this.destinations.flatMap((d) => (d.sources ?? SOURCES.map((s) => s.name))
        .map((source) => ({ source, destination: d.name, ...(d.filter ? { filter: d.filter.rule } : {}) }))),
    };
    this.configFile = join(this.dir, 'hookyard.yaml');
    writeFileSync(this.configFile, stringify(this.raw));
    this.ingressPort = await freePort();
    for (const s of ['ingress', 'router', 'deliverer'] as const) this.metricsPorts.set(s, await freePort());
    this.env = { ...this.o.addrs, HOOKYARD_CONFIG: this.configFile, LOG_LEVEL: 'info' };
    for (const s of ['ingress', 'router', 'deliverer'] as const) await this.start(s);
  }

  get ingressUrl(): string {
    return `http://127.0.0.1:${this.ingressPort}`;
  }

  /** Starts a service process and waits for its ready line (ingress: also /readyz). */
  async start(name: ServiceName): Promise<void> {
    const proc = this.services.get(name) ?? { name, child: undefined, starts: 0 };
    this.services.set(name, proc);
    proc.starts++;
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const logFile = createWriteStream(join(this.dir, 'logs', `${name}-${proc.starts}.log`));
    const port = name === 'ingress' ? this.ingressPort : this.metricsPorts.get(name)!;
    const child = spawn(process.execPath, [join(repoRoot, 'services', name, 'src', 'main.ts')], {
      env: { ...process.env, ...this.env, PORT: String(port), METRICS_PORT: String(this.metricsPorts.get(name)) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.child = child;
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start in 90 s (log: ${join(this.dir, 'logs')})`)), 90_000);
      const onData = (b: Buffer) => {
        logFile.write(b);
        if (seen !== 'ready') {
          seen = (seen + b.toString()).slice(-4000);
          if (seen.includes(READY[name])) { seen = 'ready'; clearTimeout(timer); resolve(); }
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (b: Buffer) => logFile.write(b));
      child.once('exit', (code, signal) => { clearTimeout(timer); logFile.end(); reject(new Error(`${name} exited ${code ?? signal} before ready (log: ${join(this.dir, 'logs')})`)); });
    });
    if (name === 'ingress') await this.waitIngressReady();
  }

  async waitIngressReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try { if ((await fetch(`${this.ingressUrl}/readyz`)).ok) return; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`ingress not ready in ${timeoutMs} ms`);
  }

  /** Sends a signal and waits for the process to exit. */
  async stop(name: ServiceName, signal: NodeJS.Signals): Promise<void> {
    const child = this.services.get(name)?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  async restart(name: ServiceName, signal: NodeJS.Signals): Promise<void> {
    this.fault(`${signal} ${name}`);
    await this.stop(name, signal);
    await this.start(name);
    this.heal();
  }

  fault(what: string): void {
    this.faults.push({ at: Date.now(), what });
  }

  heal(): void {
    this.heals.push(Date.now());
  }

  startLoad(o: Partial<LoadOptions> & { events: number; rate: number }): Load {
    this.load = startLoad({ ingressUrl: () => this.ingressUrl, sources: SOURCES, lanes: 40, run: this.o.scenario + Date.now().toString(36), ...o });
    return this.load;
  }

  /** Expected (destination, event id) pairs from what ingress accepted. */
  expected(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const d of this.destinations) {
      const sources = new Set(d.sources ?? SOURCES.map((s) => s.name));
      out.set(d.name, new Set(this.load!.accepted.filter((a) => sources.has(a.source) && (d.filter?.accepts(a) ?? true)).map((a) => a.id)));
    }
    return out;
  }

  deliveredIds(dest: string): Set<string> {
    return new Set(this.sinks.get(dest)!.entries.filter((e) => e.status >= 200 && e.status < 300).map((e) => e.eventId));
  }

  /** Waits until every accepted event reached every destination it should (or the deadline). */
  async waitDelivered(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const exp = this.expected();
    const missing = () => [...exp].reduce((n, [d, ids]) => { const got = this.deliveredIds(d); let m = 0; for (const id of ids) if (!got.has(id)) m++; return n + m; }, 0);
    while (Date.now() < deadline) {
      if (missing() === 0) {
        // Late duplicates (a redelivery after a restart) land within a few seconds; count them.
        await new Promise((r) => setTimeout(r, 3000));
        return true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  }

  /** Delivery latency (sink 2xx − ingress answer) percentiles for one destination, in ms, over the events accepted in [since, until). */
  latency(dest: string, since = 0, until = Infinity): { p50: number; p99: number; max: number } {
    const acceptedAt = new Map(this.load!.accepted.filter((a) => a.at >= since && a.at < until).map((a) => [a.id, a.at]));
    const seen = new Set<string>();
    const xs: number[] = [];
    for (const e of this.sinks.get(dest)!.entries) {
      if (e.status >= 300 || seen.has(e.eventId)) continue;
      seen.add(e.eventId);
      const at = acceptedAt.get(e.eventId);
      if (at !== undefined) xs.push(e.at - at);
    }
    xs.sort((a, b) => a - b);
    const q = (f: number) => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))] ?? 0;
    return { p50: q(0.5), p99: q(0.99), max: xs[xs.length - 1] ?? 0 };
  }

  /** p99 delivery latency (ms) per `stepMs` of acceptance time from `since`: where a slow tail sits. */
  latencySeries(dest: string, since: number, stepMs = 5000): string {
    const buckets = new Map<number, number[]>();
    const acceptedAt = new Map(this.load!.accepted.filter((a) => a.at >= since).map((a) => [a.id, a.at]));
    const seen = new Set<string>();
    for (const e of this.sinks.get(dest)!.entries) {
      const at = acceptedAt.get(e.eventId);
      if (e.status >= 300 || seen.has(e.eventId) || at === undefined) continue;
      seen.add(e.eventId);
      const k = Math.floor((at - since) / stepMs);
      const l = buckets.get(k) ?? [];
      l.push(e.at - at);
      buckets.set(k, l);
    }
    return [...buckets].sort((a, b) => a[0] - b[0]).map(([k, l]) => {
      l.sort((a, b) => a - b);
      return `${(k * stepMs) / 1000}s:${l[Math.min(l.length - 1, Math.floor(0.99 * l.length))]}`;
    }).join(' ');
  }

  result(window?: { from: number; to: number }): FaultResult {
    const load = this.load!;
    const exp = this.expected();
    let lost = 0;
    let delivered = 0;
    let redelivered = 0;
    let recaptured = 0;
    let orderViolations = 0;
    for (const d of this.destinations) {
      const ok = this.sinks.get(d.name)!.entries.filter((e) => e.status >= 200 && e.status < 300);
      const ids = this.deliveredIds(d.name);
      for (const id of exp.get(d.name)!) if (!ids.has(id)) lost++;
      const seenIds = new Set<string>();
      const seenN = new Set<number>();
      const lastByKey = new Map<string, number>();
      for (const e of ok) {
        if (seenIds.has(e.eventId)) { redelivered++; continue; }
        seenIds.add(e.eventId);
        if (seenN.has(e.n)) { recaptured++; continue; }
        seenN.add(e.n);
        delivered++;
        if (d.ordering === 'per-key') {
          // Lanes send a key's events in n order, one at a time: the first delivery of
          // each event must come in that order.
          if ((lastByKey.get(e.key) ?? -1) > e.n) orderViolations++;
          lastByKey.set(e.key, Math.max(lastByKey.get(e.key) ?? -1, e.n));
        }
      }
    }
    const during = window ? load.answers.filter((a) => a.at >= window.from && a.at <= window.to) : load.answers;
    const count = (c: string) => during.filter((a) => a.cls === c).length;
    // Time to recover: from each heal to the first delivery of an event accepted after it.
    let recoverMs = 0;
    const allOk = [...this.sinks.values()].flatMap((s) => s.entries.filter((e) => e.status < 300));
    const acceptedAt = new Map(load.accepted.map((a) => [a.id, a.at]));
    for (const h of this.heals) {
      const first = allOk.filter((e) => (acceptedAt.get(e.eventId) ?? 0) > h).reduce((m, e) => Math.min(m, e.at), Infinity);
      if (Number.isFinite(first)) recoverMs = Math.max(recoverMs, first - h);
    }
    return {
      scenario: this.o.scenario,
      accepted: new Set(load.accepted.map((a) => a.n)).size,
      expectedDeliveries: [...exp.values()].reduce((n, s) => n + s.size, 0),
      delivered,
      lost,
      duplicates: redelivered + recaptured,
      redelivered,
      recaptured,
      orderViolations,
      answers: { '2xx': count('2xx'), '503': count('503'), other: count('other'), error: count('error') },
      recoverMs,
      faults: this.faults.map((f) => f.what),
    };
  }

  /** For a failed run: each missing (destination, event id), what ingress answered for it and what arrived for its n instead. */
  lostDetail(limit = 20): string {
    const exp = this.expected();
    const out: string[] = [];
    for (const [dest, ids] of exp) {
      const got = this.deliveredIds(dest);
      for (const id of ids) {
        if (got.has(id) || out.length >= limit) continue;
        const a = this.load!.accepted.find((x) => x.id === id)!;
        const arrived = this.sinks.get(dest)!.entries.filter((e) => e.n === a.n).map((e) => `${e.eventId}@${e.at}/${e.status}`);
        const answers = this.load!.answers.length;
        out.push(`${dest} ${id} n=${a.n} key=${a.key} duplicate=${a.duplicate} answeredAt=${a.at} arrivedForN=[${arrived.join(' ')}] (answers ${answers})`);
      }
    }
    return out.join('\n');
  }

  /**
   * For a failed run: where each missing event is in Kafka. Scans `raw-events` and each
   * destination topic for the event id's bytes (Avro keeps strings as UTF-8) under
   * read_uncommitted and read_committed, and reads the deliverer group's committed offsets
   * and metrics — enough to tell a record never written from one aborted, one committed
   * past, or one still waiting.
   */
  private async locateLost(limit = 10): Promise<string> {
    const exp = this.expected();
    const missing: { dest: string; id: string }[] = [];
    for (const [dest, ids] of exp) {
      const got = this.deliveredIds(dest);
      for (const id of ids) if (!got.has(id) && missing.length < limit) missing.push({ dest, id });
    }
    if (missing.length === 0) return '(nothing missing)';
    const prefix = (this.raw.kafka as { topicPrefix: string }).topicPrefix;
    const kafka = new Kafka({ clientId: 'fault-locate', brokers: this.o.addrs.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const out: string[] = [];
    try {
      const topics = [`${prefix}raw-events`, ...new Set(missing.map((m) => `${prefix}deliveries.${m.dest}`))];
      const group = `${prefix}hookyard-deliverer`;
      const committed = await admin.fetchOffsets({ groupId: group, topics: topics.slice(1) }).catch(() => []);
      for (const t of committed) out.push(`committed ${group} ${t.topic}: ${t.partitions.map((p) => `${p.partition}@${p.offset}`).join(' ')}`);
      for (const topic of topics) {
        const hw = await admin.fetchTopicOffsets(topic);
        out.push(`high watermarks ${topic}: ${hw.map((p) => `${p.partition}@${p.high}`).join(' ')}`);
        for (const readUncommitted of [true, false]) {
          const found = await scanTopic(kafka, topic, hw, readUncommitted, missing.map((m) => m.id));
          for (const [id, where] of found) out.push(`${readUncommitted ? 'uncommitted' : 'committed  '} ${topic} ${id} at ${where.join(' ')}`);
          const absent = missing.filter((m) => !found.has(m.id)).map((m) => m.id);
          if (absent.length) out.push(`${readUncommitted ? 'uncommitted' : 'committed  '} ${topic}: not found ${absent.join(' ')}`);
        }
      }
    } finally {
      await admin.disconnect();
    }
    try {
      const text = await (await fetch(`http://127.0.0.1:${this.metricsPorts.get('deliverer')}/metrics`)).text();
      out.push(...text.split('\n').filter((l) => /^hookyard_deliverer_(pending|consumer_lag|in_flight)/.test(l)));
    } catch (err) {
      out.push(`deliverer metrics: ${(err as Error).message}`);
    }
    return out.join('\n');
  }

  /** The deliverer's /metrics text now ('' when it does not answer). */
  async delivererMetrics(): Promise<string> {
    return fetch(`http://127.0.0.1:${this.metricsPorts.get('deliverer')}/metrics`).then((r) => r.text(), () => '');
  }

  /** For a failed run: what arrived instead of each missing event, and where it is in Kafka. */
  async explainLost(): Promise<string> {
    const located = await this.locateLost().catch((err: unknown) => `locate failed: ${(err as Error).message}`);
    return `lost detail (logs in ${this.dir}):\n${this.lostDetail()}\n${located}`;
  }

  async tearDown(): Promise<void> {
    this.load?.stop();
    for (const s of ['ingress', 'router', 'deliverer'] as const) await this.stop(s, 'SIGKILL').catch(() => {});
    for (const s of this.sinks.values()) await s.close();
  }
}

/** Partition/offset of every record whose value contains one of `ids`, reading up to the high watermarks (15 s at most). */
export async function scanTopic(kafka: Kafka, topic: string, hw: { partition: number; high: string }[], readUncommitted: boolean, ids: string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const todo = new Map(hw.filter((p) => Number(p.high) > 0).map((p) => [p.partition, Number(p.high)]));
  if (todo.size === 0) return found;
  const needles = ids.map((id) => [id, Buffer.from(id)] as const);
  const consumer = kafka.consumer({ groupId: `fault-locate-${Date.now()}-${Math.random().toString(36).slice(2)}`, readUncommitted, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 15_000);
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          for (const [id, b] of needles) if (m.value?.includes(b)) found.set(id, [...(found.get(id) ?? []), `${batch.partition}@${m.offset}`]);
        }
        const high = todo.get(batch.partition);
        if (high !== undefined && Number(batch.lastOffset()) + 1 >= high) todo.delete(batch.partition);
        if (todo.size === 0) { clearTimeout(t); resolve(); }
      },
    });
  });
  await done;
  await consumer.disconnect();
  return found;
}

export interface FaultResult {
  scenario: string;
  accepted: number;
  expectedDeliveries: number;
  /** Unique (destination, event) deliveries. */
  delivered: number;
  lost: number;
  duplicates: number;
  /** The same event id delivered again (deliverer restarted between the 2xx and its mark). */
  redelivered: number;
  /** The same provider event captured twice under two ids (ingress could not answer the first time). */
  recaptured: number;
  orderViolations: number;
  /** Ingress answers during the fault window (connection errors as `error`). */
  answers: Record<'2xx' | '503' | 'other' | 'error', number>;
  recoverMs: number;
  faults: string[];
  notes?: string;
}

/** Appends a scenario's figures to FAULTS_REPORT (the runner renders RELIABILITY.md's table from it) and prints them. */
export function report(r: FaultResult): void {
  console.log(`fault ${r.scenario}: ${JSON.stringify(r)}`);
  if (process.env.FAULTS_REPORT) appendFileSync(process.env.FAULTS_REPORT, `${JSON.stringify(r)}\n`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
