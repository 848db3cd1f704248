// npm run bench [-- --quick]: measures ingress against its ceiling (bare fastify on the same
// machine, same run) with 1 KiB bodies at acks=all, and writes bench/results/<date>.json.
// Load comes from autocannon in its own process; services run as their own processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { down, runKafkaTool, stackOptions, up } from '../scripts/infra/local-stack.ts';
import { delta, formatStages, parseHistograms, quantile, stageFigures, type Buckets } from '../test/support/histograms.ts';

if (process.argv.includes('--help')) {
  console.log(`Usage: npm run bench [-- --quick] [-- --stages=ceiling,ingress,…]

Starts the local stack (infra:up) and runs, in this order (--stages=a,b to choose):
  ceiling    Kafka's ProducerPerformance tool, 1 KiB, acks=all (the broker ceiling)
  ingress    bare fastify (the HTTP ceiling) and hookyard ingress: max rate at 64
             connections in 5 interleaved 10 s rounds each (median) after a warm-up
             (10 s; 60 s for ingress, for the broker's JIT), then half that rate for latency
  router     raw events waiting in Kafka, fanned out to 2 destinations, exactly-once
  deliverer  deliveries waiting in Kafka to a fast local sink; then 1,000/s for latency
  replay     hookyard replay of a 100,000-event window (events/s, peak RSS)
  e2e        ingress → router → deliverer → sink: max events/s, latency at 80/s and at 25/50/90 % (half
             of each level to a per-key destination, side by side, with per-stage figures),
             CPU s per 1,000 events and peak RSS per service
  durability kafka.durability fsync against replicated, alternating rounds in one run: the
             end-to-end maximum, latency at 80 events/s and at half the maximum
  index      the event history on SQLite and PostgreSQL: the console beside the pipeline at
             its maximum (delivered/s against indexed/s, CPU share; stores alternating, two
             rounds), a backlog indexed (events/s, CPU), search p50/p95 over 1,000,000
             events, bytes per event
  scale      deliverer replicas 1 → 2 → 4 against a destination answering in 50 ms
  isolation  a healthy destination beside a healthy one, then beside one failing hard
--quick shortens every stage. --profile=<service> (ingress, router or deliverer) writes
a V8 CPU profile of that service's processes to bench/profiles/ (node --cpu-prof; open it
in Chrome DevTools, or summarise it with node bench/profile-summary.ts <file>). The stack is a fresh one of its own on ports 24092 (Kafka),
24379 (Redis) and 24081 (registry), wiped at the end; --reuse-stack uses the one the
HOOKYARD_* variables point at instead. Writes bench/results/<date>.json and prints a summary.`);
  process.exit(0);
}

const root = resolve(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const profileService = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length);
const ALL_STAGES = ['ceiling', 'ingress', 'router', 'deliverer', 'replay', 'e2e', 'durability', 'index', 'scale', 'isolation'] as const;
const stagesArg = process.argv.find((a) => a.startsWith('--stages='))?.slice('--stages='.length);
const stages = new Set(stagesArg ? stagesArg.split(',') : ALL_STAGES);
for (const st of stages) if (!(ALL_STAGES as readonly string[]).includes(st)) { console.error(`unknown stage "${st}" (stages: ${ALL_STAGES.join(', ')})`); process.exit(2); }
const DURATION = quick ? 5 : 15;
const CONNECTIONS = 64;
const body = JSON.stringify({ id: 'evt_bench', type: 'invoice.paid', data: { object: { customer: 'cus_bench' } }, pad: 'x'.repeat(900) }).slice(0, 1024);

interface Load { rps: number; p50: number; p99: number; p999: number; non2xx: number; errors: number }

// End to end, events come from many customers (autocannon puts a fresh id in place of
// [<id>] in every request), so they spread over the partitions as real traffic does; one
// constant key would put the whole run on a single partition.
const manyKeysBody = body.replace('"customer":"cus_bench"', '"customer":"cus_[<id>]"').replace('x'.repeat(30), '');
const MANY_KEYS = ['-I'];

/** Ordering keys of the e2e stage's open-loop levels (bench/keyed-load.ts, round robin). */
const E2E_KEYS = 256;

/** An open-loop run at `rate` whose events come from E2E_KEYS keys (see bench/keyed-load.ts). */
function keyedLoad(url: string, rate: number, seconds = DURATION): Promise<Load> {
  const template = body.replace('"customer":"cus_bench"', '"customer":"cus_[key]"').replace('x'.repeat(30), '');
  return runLoad([join(root, 'bench/keyed-load.ts'), url, String(seconds), String(CONNECTIONS), String(rate), String(E2E_KEYS), template]);
}

function autocannon(url: string, extra: string[], seconds = DURATION, payload = body): Promise<Load> {
  return runLoad([join(root, 'node_modules/autocannon/autocannon.js'), '-c', String(CONNECTIONS), '-d', String(seconds), '-m', 'POST',
    '-H', 'content-type=application/json', '-b', payload, '--json', ...extra, url]);
}

function runLoad(args: string[]): Promise<Load> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    let out = '';
    p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    p.on('exit', () => {
      try {
        const r = JSON.parse(out) as { requests: { average: number }; latency: { p50: number; p99: number; p99_9?: number; p999?: number }; non2xx: number; errors: number };
        resolvePromise({ rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, p999: r.latency.p99_9 ?? r.latency.p999 ?? NaN, non2xx: r.non2xx, errors: r.errors });
      } catch (e) {
        reject(new Error(`autocannon output unreadable: ${(e as Error).message}\n${out.slice(0, 500)}${err.slice(-500)}`));
      }
    });
  });
}

function startProcess(script: string, env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const profiled = profileService !== undefined && script.includes(`/services/${profileService}/`);
  const flags = profiled ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'bench/profiles')}`] : [];
  const child = spawn(process.execPath, [...flags, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${script} did not start:\n${out}`)), 60_000);
    const on = (b: Buffer) => {
      out += b.toString();
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); res({ child, url: m[1]! }); }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
  });
}

interface Measured { name: string; max: Load; rounds: number[]; half: Load }

/**
 * Max rate of several targets, in interleaved rounds (a, b, a, b, …), then each one's
 * latency at half its max. On two shared cores one 15 s run of the same code ranges over
 * ±25 % from minute to minute; interleaving puts every target in the same minutes, and
 * the median of the rounds is the figure (every round is kept in the results).
 */
async function measureInterleaved(targets: { name: string; url: string; warmupS?: number }[], rounds = quick ? 1 : 5): Promise<Measured[]> {
  const runs = new Map<string, Load[]>(targets.map((t) => [t.name, []]));
  // Warm-up: the JIT of each target, and of whatever it writes to (see the ingress stage).
  for (const t of targets) await autocannon(`${t.url}/webhooks/bench`, [], quick ? 3 : (t.warmupS ?? 10));
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) runs.get(t.name)!.push(await autocannon(`${t.url}/webhooks/bench`, [], quick ? DURATION : 10));
  }
  const out: Measured[] = [];
  for (const t of targets) {
    const all = runs.get(t.name)!;
    const max = [...all].sort((x, y) => x.rps - y.rps)[Math.floor(all.length / 2)]!;
    const half = await autocannon(`${t.url}/webhooks/bench`, ['-R', String(Math.max(1, Math.round(max.rps / 2)))]);
    console.error(`${t.name}: max ${max.rps} req/s (median of ${all.map((l) => l.rps).join(', ')}; p99 ${max.p99} ms); at ${Math.round(max.rps / 2)} req/s p50 ${half.p50} ms p99 ${half.p99} ms`);
    out.push({ name: t.name, max, rounds: all.map((l) => l.rps), half });
  }
  return out;
}

// Children must not outlive a failed run.
const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
const stop = (c: ChildProcess) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); });

// A stack of its own, fresh, on ports a developer's stack does not use: a long-lived stack
// with thousands of leftover test partitions is measurably slower. --reuse-stack measures
// against the stack the environment points at instead.
if (!process.argv.includes('--reuse-stack')) {
  process.env.HOOKYARD_KAFKA_PORT ??= '24092';
  process.env.HOOKYARD_REDIS_PORT ??= '24379';
  process.env.HOOKYARD_REGISTRY_PORT ??= '24081';
  process.env.HOOKYARD_STACK_DIR ??= join(tmpdir(), `hookyard-bench-stack-${process.pid}`);
}
const ownStack = !process.argv.includes('--reuse-stack');
let stackDown = false;
// A failed run must not leave its stack behind either.
process.on('exit', () => {
  if (ownStack && !stackDown) spawnSync(process.execPath, [join(root, 'scripts/infra/cli.ts'), 'down', '--wipe'], { stdio: 'ignore', env: process.env });
});
const addrs = await up(stackOptions(), (m) => console.error(m));
/** Creates a stage's topics and returns a connected producer and the envelope codec. */
async function benchKafka(cfg: import('../packages/core/src/index.ts').KafkaConfig, topics: string[]) {
  const { Kafka, logLevel } = await import('kafkajs');
  const { EnvelopeCodec, ensureTopics } = await import('../packages/core/src/index.ts');
  const kafka = new Kafka({ brokers: addrs.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, cfg, topics);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  return { kafka, producer, codec: new EnvelopeCodec(addrs.SCHEMA_REGISTRY_URL) };
}

/** CPU seconds (user + system) and peak RSS of a live process, from /proc. */
function procStats(pid: number): { cpuSeconds: number; peakRssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (after pid and comm)
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, peakRssMiB: Math.round(hwm / 1024) };
}

// Broker ceiling: Kafka's own producer performance tool, 1 KiB records, acks=all,
// idempotent, as fast as it can, on the same machine in the same run.
async function ceilingStage(): Promise<{ records: number; recordsPerSecond: number; p50: number; p99: number }> {
  const { Kafka, logLevel } = await import('kafkajs');
  const { ensureTopics, parseConfig } = await import('../packages/core/src/index.ts');
  const topic = `bench-ceiling-${Date.now()}`;
  const kafka = new Kafka({ brokers: addrs.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, parseConfig(stringify({ kafka: { partitions: 6 }, sources: [{ name: 'x' }] }), {}).kafka, [topic]);
  await admin.disconnect();
  const N = quick ? 100_000 : 300_000;
  const out = await runKafkaTool(stackOptions(), 'org.apache.kafka.tools.ProducerPerformance', [
    '--topic', topic, '--num-records', String(N), '--record-size', '1024', '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${addrs.KAFKA_BROKERS}`, 'acks=all', 'enable.idempotence=true', 'linger.ms=5',
  ]);
  const last = out.trim().split('\n').at(-1) ?? '';
  const m = /([\d.]+) records\/sec.*?(\d+) ms 50th.*?(\d+) ms 99th/.exec(last);
  if (!m) throw new Error(`ProducerPerformance output not understood: ${last}`);
  const r = { records: N, recordsPerSecond: Math.round(Number(m[1])), p50: Number(m[2]), p99: Number(m[3]) };
  console.error(`broker ceiling (ProducerPerformance, 1 KiB, acks=all): ${r.recordsPerSecond} records/s, p50 ${r.p50} ms, p99 ${r.p99} ms`);
  return r;
}
const ceilingResult = stages.has('ceiling') ? await ceilingStage() : null;

async function ingressStage(): Promise<{ bare: Measured; ingress: Measured; ratios: number[] }> {
const bare = await startProcess(join(root, 'bench/bare-fastify.ts'), {}, /listening (http:\/\/\S+)/);

const cfgFile = join(tmpdir(), `hookyard-bench-${randomBytes(3).toString('hex')}.yaml`);
writeFileSync(cfgFile, stringify({
  kafka: { topicPrefix: `bench-${Date.now()}.`, partitions: 6 },
  sources: [{ name: 'bench', orderingKey: 'body.data.object.customer' }],
}));
const port = String(18000 + Math.floor(Math.random() * 1000));
const ing = await startProcess(join(root, 'services/ingress/src/main.ts'), { ...addrs, HOOKYARD_CONFIG: cfgFile, PORT: port, LOG_LEVEL: 'info' }, /"address":"(http:\/\/[^"]+)"/);
const ingressUrl = `http://127.0.0.1:${port}`;
for (let i = 0; i < 60 && !(await fetch(`${ingressUrl}/readyz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 500));
// A fresh broker JVM takes 45–60 s under this load to reach its steady speed (ingress
// measured 8k → 20k req/s over its first minute against a fresh broker, and at its steady
// rate from the first seconds against a warm one): sustained throughput is measured after it.
const [bareResult, ingressResult] = await measureInterleaved([{ name: 'bare fastify', url: bare.url }, { name: 'hookyard ingress (acks=all)', url: ingressUrl, warmupS: 60 }]);
await stop(bare.child);
await stop(ing.child);
const ratios = bareResult!.rounds.map((b, i) => +(ingressResult!.rounds[i]! / b).toFixed(3));
console.error(`ingress / bare fastify per round: ${ratios.join(', ')}`);
return { bare: bareResult!, ingress: ingressResult!, ratios };
}
const ingressStageResult = stages.has('ingress') ? await ingressStage() : null;
const bareResult = ingressStageResult?.bare ?? null;
const ingressResult = ingressStageResult?.ingress ?? null;
const ingressRoundRatios = ingressStageResult?.ratios ?? null;

// Router stage: N raw events of 1 KiB waiting in raw-events, each fanned out to 2
// destinations; the rate is N over the time until the router's committed offsets reach N.
async function routerStage(recordDecisions = true): Promise<{ events: number; seconds: number; eventsPerSecond: number; deliveriesPerSecond: number }> {
  const { topicNames, groupId, parseConfig } = await import('../packages/core/src/index.ts');
  const N = quick ? 20_000 : 100_000;
  const raw = {
    kafka: { topicPrefix: `bench-router-${Date.now()}.`, partitions: 6 },
    router: { recordDecisions },
    sources: [{ name: 'bench' }],
    destinations: [{ name: 'd1', url: 'http://127.0.0.1:9/' }, { name: 'd2', url: 'http://127.0.0.1:9/' }],
    connections: [{ source: 'bench', destination: 'd1' }, { source: 'bench', destination: 'd2' }],
  };
  const config = parseConfig(stringify(raw), {});
  const topics = topicNames(config.kafka.topicPrefix);
  const { kafka, codec, producer } = await benchKafka(config.kafka, [topics.rawEvents, topics.delivery('d1'), topics.delivery('d2')]);
  const admin = kafka.admin(); // reads the router's committed offsets
  await admin.connect();
  const payload = Buffer.from(body);
  for (let i = 0; i < N; i += 1000) {
    const messages = [];
    for (let n = i; n < Math.min(N, i + 1000); n++) {
      messages.push({ key: `k${n % 500}`, value: await codec.encode(topics.rawEvents, 'raw-event', { id: `e${n}`, source: 'bench', receivedAt: Date.now(), method: 'POST', path: '/webhooks/bench', query: '', headers: { 'content-type': 'application/json' }, body: payload, orderingKey: `k${n % 500}`, replayId: null }) });
    }
    await producer.send({ topic: topics.rawEvents, messages });
  }
  await producer.disconnect();
  const file = join(tmpdir(), `hookyard-bench-router-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, stringify(raw));
  const t0 = performance.now();
  const router = await startProcess(join(root, 'services/router/src/main.ts'), { ...addrs, HOOKYARD_CONFIG: file, LOG_LEVEL: 'info' }, /(router consuming)/);
  const group = groupId(config.kafka, 'router');
  let done = 0;
  while (done < N) {
    await new Promise((r) => setTimeout(r, 250));
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [topics.rawEvents] });
    done = offsets[0]!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  }
  const seconds = (performance.now() - t0) / 1000;
  await stop(router.child);
  await admin.disconnect();
  const r = { events: N, seconds: +seconds.toFixed(2), eventsPerSecond: Math.round(N / seconds), deliveriesPerSecond: Math.round((2 * N) / seconds) };
  console.error(`router (routing-decisions ${recordDecisions ? 'on' : 'off'}): ${r.eventsPerSecond} events/s in, ${r.deliveriesPerSecond} deliveries/s out (${N} events, start-up included)`);
  return r;
}
// What the routing-decisions record (the event history's "filtered") costs the router:
// rounds alternate off, on, on, off; the stage's figure is the default (on).
async function routerDecisionsCost(): Promise<{ on: number[]; off: number[]; ratio: number; result: Awaited<ReturnType<typeof routerStage>> }> {
  const on: number[] = [];
  const off: number[] = [];
  let result: Awaited<ReturnType<typeof routerStage>> | undefined;
  for (const mode of [false, true, true, false]) {
    const r = await routerStage(mode);
    (mode ? on : off).push(r.eventsPerSecond);
    if (mode) result = r;
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { on, off, ratio: +(mean(on) / mean(off)).toFixed(3), result: result! };
}
const routerCost = stages.has('router') ? await routerDecisionsCost() : null;
const routerResult = routerCost?.result ?? null;

// Deliverer stage: N deliveries of 1 KiB waiting in deliveries.sink, a local sink answering
// 204; then a paced phase (1,000/s) for Kafka → sink latency.
async function delivererStage(): Promise<{ events: number; eventsPerSecond: number; paced: { rate: number; p50: number; p99: number } }> {
  const { createServer } = await import('node:http');
  const { topicNames, parseConfig } = await import('../packages/core/src/index.ts');
  const N = quick ? 10_000 : 50_000;
  const latencies: number[] = [];
  let received = 0;
  let firstAt = 0;
  const sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (received++ === 0) firstAt = performance.now();
      const t = Number(/"t":(\d+)/.exec(Buffer.concat(chunks).toString())?.[1] ?? 0);
      if (t > 0) latencies.push(Date.now() - t);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const raw = {
    kafka: { topicPrefix: `bench-deliverer-${Date.now()}.`, partitions: 6 },
    sources: [{ name: 'bench' }],
    destinations: [{ name: 'sink', url: `http://127.0.0.1:${(sink.address() as { port: number }).port}/hook` }],
  };
  const config = parseConfig(stringify(raw), {});
  const topic = topicNames(config.kafka.topicPrefix).delivery('sink');
  const { codec, producer } = await benchKafka(config.kafka, [topic]);
  const pad = 'x'.repeat(960);
  const delivery = async (n: number, t: number) => ({ key: `k${n % 500}`, value: await codec.encode(topic, 'delivery', { eventId: `e${n}`, source: 'bench', destination: 'sink', receivedAt: t, orderingKey: `k${n % 500}`, headers: { 'content-type': 'application/json' }, body: Buffer.from(`{"t":${t},"n":${n},"pad":"${pad}"}`), attempt: 0, replayId: null }) });
  for (let i = 0; i < N; i += 1000) {
    const messages = [];
    for (let n = i; n < Math.min(N, i + 1000); n++) messages.push(await delivery(n, 0));
    await producer.send({ topic, messages });
  }
  const file = join(tmpdir(), `hookyard-bench-deliverer-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, stringify(raw));
  const d = await startProcess(join(root, 'services/deliverer/src/main.ts'), { ...addrs, HOOKYARD_CONFIG: file, LOG_LEVEL: 'info' }, /(deliverer consuming)/);
  while (received < N) await new Promise((r) => setTimeout(r, 20));
  // From the first delivery to the last: group join and start-up are not delivery work.
  const seconds = (performance.now() - firstAt) / 1000;
  // Paced phase: 1,000 deliveries/s for 5 s, produced in 10 ms slices.
  const RATE = 1000;
  for (let slice = 0; slice < 500; slice++) {
    const now = Date.now();
    const messages = [];
    for (let k = 0; k < RATE / 100; k++) messages.push(await delivery(N + slice * 10 + k, now));
    await producer.send({ topic, messages });
    const wait = now + 10 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  while (received < N + 5000) await new Promise((r) => setTimeout(r, 100));
  await stop(d.child);
  await producer.disconnect();
  sink.close();
  latencies.sort((x, y) => x - y);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  const r = { events: N, eventsPerSecond: Math.round(N / seconds), paced: { rate: RATE, p50: pct(50), p99: pct(99) } };
  console.error(`deliverer: ${r.eventsPerSecond} deliveries/s to a local sink (${N}, first to last delivery); at ${RATE}/s Kafka→sink p50 ${r.paced.p50} ms p99 ${r.paced.p99} ms`);
  return r;
}
const delivererResult = stages.has('deliverer') ? await delivererStage() : null;

// Replay stage: N raw events of 1 KiB in raw-events; `hookyard replay` of the whole window
// as a user runs it (its own process), routed to one destination: events/s and peak RSS.
async function replayStage(): Promise<{ events: number; seconds: number; eventsPerSecond: number; peakRssMiB: number }> {
  const { eventId, topicNames, parseConfig } = await import('../packages/core/src/index.ts');
  const N = quick ? 20_000 : 100_000;
  const raw = {
    kafka: { topicPrefix: `bench-replay-${Date.now()}.`, partitions: 6 },
    sources: [{ name: 'bench' }],
    destinations: [{ name: 'sink', url: 'http://127.0.0.1:9/hook' }],
    connections: [{ source: 'bench', destination: 'sink' }],
  };
  const config = parseConfig(stringify(raw), {});
  const topic = topicNames(config.kafka.topicPrefix).rawEvents;
  const { codec, producer } = await benchKafka(config.kafka, [topic]);
  const T0 = Date.now() - 3_600_000;
  const pad = 'x'.repeat(960);
  for (let i = 0; i < N; i += 1000) {
    const messages = [];
    for (let n = i; n < Math.min(N, i + 1000); n++) {
      const at = T0 + Math.floor((n * 3_000_000) / N);
      const id = eventId(at);
      messages.push({ key: id, timestamp: String(at), value: await codec.encode(topic, 'raw-event', {
        id, source: 'bench', receivedAt: at, method: 'POST', path: '/webhooks/bench', query: '', headers: { 'content-type': 'application/json' },
        body: Buffer.from(`{"n":${n},"pad":"${pad}"}`), orderingKey: id, replayId: null,
      }) });
    }
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
  const file = join(tmpdir(), `hookyard-bench-replay-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, stringify(raw));
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'services/replayer/src/main.ts'), 'replay', '--from', new Date(T0).toISOString(), '--to', new Date(T0 + 3_600_000).toISOString(), '--json'],
    { env: { ...process.env, ...addrs, HOOKYARD_CONFIG: file }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  let peakKiB = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch { /* exited */ }
  }, 50);
  let outText = '';
  child.stdout!.on('data', (b: Buffer) => { outText += b.toString(); });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearInterval(poll);
  children.delete(child);
  const seconds = (performance.now() - t0) / 1000;
  const summary = JSON.parse(outText) as { replayed: number };
  if (code !== 0 || summary.replayed !== N) throw new Error(`replay exited ${code} having replayed ${summary.replayed} of ${N}`);
  const r = { events: N, seconds: +seconds.toFixed(2), eventsPerSecond: Math.round(N / seconds), peakRssMiB: Math.round(peakKiB / 1024) };
  console.error(`replay: ${r.eventsPerSecond} events/s over ${N} events (process start included), peak RSS ${r.peakRssMiB} MiB`);
  return r;
}
const replayResult = stages.has('replay') ? await replayStage() : null;

// End to end: ingress → raw-events → router → deliveries → deliverer → a local sink, every
// service its own process. The maximum is measured by driving ingress as fast as it
// answers and timing the first request to the sink's last 2xx; latency comes from
// open-loop runs (fixed arrival rate, autocannon -R) at 80/s and at 25 %, 50 % and 90 % of it, from
// the event id's embedded receive time (first byte at ingress) to the sink's 2xx.
interface E2eLevel {
  targetRate: number; sent: number; delivered: number;
  /** The unordered destination (half the events). */
  p50: number; p99: number; p999: number;
  /** The per-key destination (the other half, from a fixed set of keys). */
  keyed: { p50: number; p99: number; p999: number };
  hops: { routerFetchedP50: number; delivererFetchedP50: number; requestStartedP50: number; ingressAnswerP50: number };
  /** The deliverer's own per-stage p50/p99 (ms) per destination over the level. */
  stages: Record<string, Record<string, [number, number]>>;
}
async function e2eStage(): Promise<{ maxEventsPerSecond: number; levels: E2eLevel[]; resources: Record<string, { cpuSecondsPer1000: number; peakRssMiB: number; heapUsedMiB?: number; heapTotalMiB?: number; externalMiB?: number }> }> {
  const { createServer } = await import('node:http');
  const { eventIdTime } = await import('../packages/core/src/index.ts');
  const latencies: number[] = [];
  const keyedLatencies: number[] = [];
  let levelFrom = Infinity;
  let received = 0;
  let lastAt = 0;
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      lastAt = performance.now();
      const t = eventIdTime(String(req.headers['x-hookyard-event-id']));
      // Only events accepted during the current level count: the backlog of the level
      // before must not be charged to this one.
      if (t !== undefined && t >= levelFrom) (req.url === '/keyed' ? keyedLatencies : latencies).push(Date.now() - t);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  // The maximum is measured on 'bench' → an unordered destination alone (comparable with
  // earlier runs); the latency levels send half their events there and half through
  // 'bench-keyed' to a per-key destination, from a fixed set of keys, side by side.
  const sinkBase = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  const raw = {
    kafka: { topicPrefix: `bench-e2e-${Date.now()}.`, partitions: 6 },
    sources: [{ name: 'bench', orderingKey: 'body.data.object.customer' }, { name: 'bench-keyed', orderingKey: 'body.data.object.customer' }],
    destinations: [{ name: 'sink', url: `${sinkBase}/hook` }, { name: 'keyed', url: `${sinkBase}/keyed`, ordering: 'per-key' }],
    connections: [{ source: 'bench', destination: 'sink' }, { source: 'bench-keyed', destination: 'keyed' }],
  };
  const file = join(tmpdir(), `hookyard-bench-e2e-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, stringify(raw));
  const port = String(18000 + Math.floor(Math.random() * 1000));
  const env = { ...addrs, HOOKYARD_CONFIG: file, LOG_LEVEL: 'info' };
  const ing = await startProcess(join(root, 'services/ingress/src/main.ts'), { ...env, PORT: port }, /"address":"(http:\/\/[^"]+)"/);
  const rtrMetrics = 20000 + Math.floor(Math.random() * 400);
  const dlvMetrics = rtrMetrics + 500;
  const rtr = await startProcess(join(root, 'services/router/src/main.ts'), { ...env, METRICS_PORT: String(rtrMetrics) }, /(router consuming)/);
  const dlv = await startProcess(join(root, 'services/deliverer/src/main.ts'), { ...env, METRICS_PORT: String(dlvMetrics) }, /(deliverer consuming)/);
  // Where the time goes: the age of events (since ingress received them) when the router
  // fetches them, when the deliverer fetches them, and when its request starts, from the
  // services' own histograms, per level (the difference of two scrapes).
  const scrapeAges = async () => {
    const text = (await Promise.all([rtrMetrics, dlvMetrics].map((p) => fetch(`http://127.0.0.1:${p}/metrics`).then((r) => r.text())))).join('\n');
    const series = (pattern: RegExp) => [...text.matchAll(pattern)].map((m) => ({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) }));
    return {
      routerFetched: series(/^hookyard_router_event_age_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)/gm),
      delivererFetched: series(/^hookyard_deliverer_event_age_seconds_bucket\{(?=[^}]*stage="fetched")[^}]*le="([^"]+)"[^}]*\} (\d+)/gm),
      requestStarted: series(/^hookyard_deliverer_event_age_seconds_bucket\{(?=[^}]*stage="sent")[^}]*le="([^"]+)"[^}]*\} (\d+)/gm),
    };
  };
  /** p50 from the difference of two cumulative histograms, interpolated within its bucket (ms). */
  const histP50 = (a: Buckets, b: Buckets) => Math.round(1000 * quantile(delta(a, b), 0.5));
  const url = `http://127.0.0.1:${port}/webhooks/bench`;
  for (let i = 0; i < 60 && !(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 500));
  const drain = async (target: number) => {
    const deadline = Date.now() + 180_000;
    while (received < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  };
  // Warm-up, then the maximum.
  let accepted = 0;
  const w = await autocannon(url, MANY_KEYS, 3, manyKeysBody);
  accepted += Math.round(w.rps * 3);
  await drain(accepted * 0.99);
  const before = Object.fromEntries(([['ingress', ing.child], ['router', rtr.child], ['deliverer', dlv.child]] as const).map(([n, c]) => [n, procStats(c.pid!)]));
  const receivedBefore = received;
  const t0 = performance.now();
  const max = await autocannon(url, MANY_KEYS, DURATION, manyKeysBody);
  const sent = Math.round(max.rps * DURATION);
  await drain(receivedBefore + sent * 0.999);
  const maxEventsPerSecond = Math.round((received - receivedBefore) / ((lastAt - t0) / 1000));
  const after = Object.fromEntries(([['ingress', ing.child], ['router', rtr.child], ['deliverer', dlv.child]] as const).map(([n, c]) => [n, procStats(c.pid!)]));
  const events = received - receivedBefore;
  // Where the memory goes, from each service's own metrics right after the maximum run:
  // V8 heap in use and heap size, and external memory (Buffers: payloads, sockets).
  const memoryOf = async (metricsUrl: string) => {
    const text = await fetch(metricsUrl).then((r) => r.text(), () => '');
    const v = (name: string) => Math.round(Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20);
    return { heapUsedMiB: v('hookyard_nodejs_heap_size_used_bytes'), heapTotalMiB: v('hookyard_nodejs_heap_size_total_bytes'), externalMiB: v('hookyard_nodejs_external_memory_bytes') };
  };
  const memory: Record<string, { heapUsedMiB: number; heapTotalMiB: number; externalMiB: number }> = {
    ingress: await memoryOf(`http://127.0.0.1:${port}/metrics`),
    router: await memoryOf(`http://127.0.0.1:${rtrMetrics}/metrics`),
    deliverer: await memoryOf(`http://127.0.0.1:${dlvMetrics}/metrics`),
  };
  const resources = Object.fromEntries(Object.keys(after).map((n) => [n, {
    cpuSecondsPer1000: +(((after[n]!.cpuSeconds - before[n]!.cpuSeconds) / events) * 1000).toFixed(3), peakRssMiB: after[n]!.peakRssMiB, ...memory[n],
  }]));
  console.error(`e2e: max ${maxEventsPerSecond} events/s ingress → sink (${events} events); resources ${JSON.stringify(resources)}`);
  const levels: E2eLevel[] = [];
  // Let the backlog of the previous run finish: no delivery for a full second.
  const quiesce = async () => {
    const deadline = Date.now() + 180_000;
    let seen = -1;
    while (seen !== received && Date.now() < deadline) {
      seen = received;
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  // A low fixed rate first (80/s, the broker warm from the maximum run: what a quiet
  // gateway's users see), then shares of this run's maximum.
  const runs = [{ label: '80/s', rate: 80 }, ...[0.25, 0.5, 0.9].map((share) => ({ label: `${Math.round(share * 100)} %`, rate: Math.max(1, Math.round(maxEventsPerSecond * share)) }))];
  for (const { label, rate } of runs) {
    await quiesce();
    latencies.length = 0;
    keyedLatencies.length = 0;
    levelFrom = Date.now();
    const start = received;
    const agesBefore = await scrapeAges();
    const stagesBefore = await fetch(`http://127.0.0.1:${dlvMetrics}/metrics`).then((r) => r.text());
    const [load, keyedHalf] = await Promise.all([
      keyedLoad(url, rate - Math.floor(rate / 2)),
      keyedLoad(url.replace(/\/bench$/, '/bench-keyed'), Math.floor(rate / 2)),
    ]);
    const n = Math.round((load.rps + keyedHalf.rps) * DURATION);
    await drain(start + n * 0.999);
    const agesAfter = await scrapeAges();
    const stageMs = stageFigures(stagesBefore, await fetch(`http://127.0.0.1:${dlvMetrics}/metrics`).then((r) => r.text()));
    const hops = {
      routerFetchedP50: histP50(agesBefore.routerFetched, agesAfter.routerFetched),
      delivererFetchedP50: histP50(agesBefore.delivererFetched, agesAfter.delivererFetched),
      requestStartedP50: histP50(agesBefore.requestStarted, agesAfter.requestStarted),
      ingressAnswerP50: load.p50,
    };
    const percentiles = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
      return { p50: pct(50), p99: pct(99), p999: pct(99.9) };
    };
    const u = percentiles(latencies);
    const k = percentiles(keyedLatencies);
    levels.push({ targetRate: rate, sent: n, delivered: received - start, ...u, keyed: k, hops, stages: stageMs });
    console.error(`e2e at ${label} (${rate}/s, half per-key from ${E2E_KEYS} keys): unordered p50 ${u.p50} ms, p99 ${u.p99} ms, p99.9 ${u.p999} ms; per-key p50 ${k.p50} ms, p99 ${k.p99} ms, p99.9 ${k.p999} ms (p99 ×${(k.p99 / u.p99).toFixed(2)}); p50 age at router fetch ${hops.routerFetchedP50} ms, deliverer fetch ${hops.delivererFetchedP50} ms, request start ${hops.requestStartedP50} ms`);
    console.error(`  deliverer stages ms p50/p99: ${formatStages(stageMs)}`);
  }
  for (const c of [ing.child, rtr.child, dlv.child]) await stop(c);
  sink.close();
  return { maxEventsPerSecond, levels, resources };
}
const e2eResult = stages.has('e2e') ? await e2eStage() : null;

// Durability: what a 202 costs in each mode of kafka.durability, in the same run. fsync:
// hookyard's topics flush.messages=1 and the broker flushes its own state per message
// (the stack's static setting); replicated: neither (the broker's flush lifted by a
// per-broker dynamic setting; one broker here, so the risk accepted). Modes alternate
// round by round; each round measures the end-to-end maximum, then the latency at
// 80 events/s and at half the maximum.
interface DurabilityRound { mode: 'fsync' | 'replicated'; maxEventsPerSecond: number; at80: { p50: number; p99: number }; atHalf: { rate: number; p50: number; p99: number }; eventsPerProduceAtMax: number; produceP50MsAtMax: number }
async function durabilityStage(): Promise<{ rounds: DurabilityRound[]; median: Record<'fsync' | 'replicated', { maxEventsPerSecond: number; at80: { p50: number; p99: number }; atHalf: { p50: number; p99: number } }>; ratio: { max: number; p99At80: number; p99AtHalf: number } }> {
  const { createServer } = await import('node:http');
  const { eventIdTime } = await import('../packages/core/src/index.ts');
  const { Kafka, logLevel } = await import('kafkajs');
  let received = 0;
  let lastAt = 0;
  let from = Infinity;
  const latencies: number[] = [];
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      lastAt = performance.now();
      const t = eventIdTime(String(req.headers['x-hookyard-event-id']));
      if (t !== undefined && t >= from) latencies.push(Date.now() - t);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const admin = new Kafka({ brokers: addrs.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const { brokers } = await admin.describeCluster();
  const brokerFlush = (value: string | null) => admin.alterConfigs({ validateOnly: false, resources: brokers.map((b) => ({ type: 4, name: String(b.nodeId), configEntries: value === null ? [] : [{ name: 'log.flush.interval.messages', value }] })) });
  const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN; };
  const waitFor = async (n: number) => { const deadline = Date.now() + 180_000; while (received < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50)); };
  const quiesce = async () => { let seen = -1; const deadline = Date.now() + 120_000; while (seen !== received && Date.now() < deadline) { seen = received; await new Promise((r) => setTimeout(r, 1000)); } };
  const rounds: DurabilityRound[] = [];
  const order: ('fsync' | 'replicated')[] = [];
  for (let r = 0; r < (quick ? 1 : 2); r++) order.push(...(r % 2 === 0 ? ['fsync', 'replicated'] as const : ['replicated', 'fsync'] as const));
  try {
    for (const mode of order) {
      await brokerFlush(mode === 'fsync' ? null : '9223372036854775807');
      const raw = {
        kafka: { topicPrefix: `bench-durability-${mode}-${Date.now()}.`, partitions: 6, durability: mode, ...(mode === 'replicated' ? { acceptPowerLossRisk: true } : {}) },
        sources: [{ name: 'bench', orderingKey: 'body.data.object.customer' }],
        destinations: [{ name: 'sink', url: `http://127.0.0.1:${(sink.address() as { port: number }).port}/hook` }],
        connections: [{ source: 'bench', destination: 'sink' }],
      };
      const file = join(tmpdir(), `hookyard-bench-durability-${randomBytes(3).toString('hex')}.yaml`);
      writeFileSync(file, stringify(raw));
      const port = String(18000 + Math.floor(Math.random() * 1000));
      const env = { ...addrs, HOOKYARD_CONFIG: file, LOG_LEVEL: 'info' };
      const ing = await startProcess(join(root, 'services/ingress/src/main.ts'), { ...env, PORT: port }, /"address":"(http:\/\/[^"]+)"/);
      const rtr = await startProcess(join(root, 'services/router/src/main.ts'), env, /(router consuming)/);
      const dlv = await startProcess(join(root, 'services/deliverer/src/main.ts'), env, /(deliverer consuming)/);
      const url = `http://127.0.0.1:${port}/webhooks/bench`;
      for (let i = 0; i < 60 && !(await fetch(`http://127.0.0.1:${port}/readyz`).then((x) => x.ok, () => false)); i++) await new Promise((x) => setTimeout(x, 500));
      const w = await autocannon(url, MANY_KEYS, 3, manyKeysBody);
      await waitFor(received + Math.round(w.rps * 3 * 0.99));
      await quiesce();
      const before = received;
      // Events per produce request (ingress coalesces concurrent requests): under fsync the
      // broker flushes once per request and partition, not once per event.
      const scrape = () => fetch(`http://127.0.0.1:${port}/metrics`).then((x) => x.text());
      const m0 = await scrape();
      const t0 = performance.now();
      const max = await autocannon(url, MANY_KEYS, DURATION, manyKeysBody);
      await waitFor(before + Math.round(max.rps * DURATION * 0.999));
      const maxEventsPerSecond = Math.round((received - before) / ((lastAt - t0) / 1000));
      const m1 = await scrape();
      const num = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN);
      const batches = num(m1, 'hookyard_ingress_produce_batch_size_count') - num(m0, 'hookyard_ingress_produce_batch_size_count');
      const eventsPerProduceAtMax = +((num(m1, 'hookyard_ingress_produce_batch_size_sum') - num(m0, 'hookyard_ingress_produce_batch_size_sum')) / batches).toFixed(1);
      const produce = delta(parseHistograms(m0, 'hookyard_ingress_produce_seconds').get('outcome=ok'), parseHistograms(m1, 'hookyard_ingress_produce_seconds').get('outcome=ok') ?? []);
      const produceP50MsAtMax = Math.round(quantile(produce, 0.5) * 10_000) / 10;
      const level = async (rate: number) => {
        await quiesce();
        latencies.length = 0;
        from = Date.now();
        const start = received;
        const l = await keyedLoad(url, rate);
        await waitFor(start + Math.round(l.rps * DURATION * 0.999));
        from = Infinity;
        return { p50: pct(latencies, 50), p99: pct(latencies, 99) };
      };
      const at80 = await level(80);
      const half = Math.max(1, Math.round(maxEventsPerSecond / 2));
      const atHalf = { rate: half, ...(await level(half)) };
      for (const c of [ing.child, rtr.child, dlv.child]) await stop(c);
      rounds.push({ mode, maxEventsPerSecond, at80, atHalf, eventsPerProduceAtMax, produceP50MsAtMax });
      console.error(`durability ${mode}: max ${maxEventsPerSecond} events/s (${eventsPerProduceAtMax} events per produce request, produce p50 ${produceP50MsAtMax} ms); at 80/s p50 ${at80.p50} ms p99 ${at80.p99} ms; at ${half}/s p50 ${atHalf.p50} ms p99 ${atHalf.p99} ms`);
    }
  } finally {
    await brokerFlush(null).catch(() => {});
    await admin.disconnect();
    sink.close();
  }
  const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)] ?? NaN; };
  const of = (mode: 'fsync' | 'replicated') => {
    const rs = rounds.filter((x) => x.mode === mode);
    return { maxEventsPerSecond: med(rs.map((x) => x.maxEventsPerSecond)), at80: { p50: med(rs.map((x) => x.at80.p50)), p99: med(rs.map((x) => x.at80.p99)) }, atHalf: { p50: med(rs.map((x) => x.atHalf.p50)), p99: med(rs.map((x) => x.atHalf.p99)) } };
  };
  const median = { fsync: of('fsync'), replicated: of('replicated') };
  const ratio = {
    max: +(median.fsync.maxEventsPerSecond / median.replicated.maxEventsPerSecond).toFixed(3),
    p99At80: +(median.fsync.at80.p99 / median.replicated.at80.p99).toFixed(2),
    p99AtHalf: +(median.fsync.atHalf.p99 / median.replicated.atHalf.p99).toFixed(2),
  };
  return { rounds, median, ratio };
}
const durabilityResult = stages.has('durability') ? await durabilityStage() : null;
const indexResult = stages.has('index') ? await (await import('./index-stage.ts')).indexStage(addrs, quick, {
  startProcess, stop: async (c) => { await stop(c); }, duration: DURATION, load: (url, seconds) => autocannon(url, MANY_KEYS, seconds, manyKeysBody),
}) : null;

// Scale: deliverer replicas 1 → 2 → 4 against a destination answering in 50 ms; each run
// delivers N waiting deliveries and counts events/s from first to last.
async function scaleStage(): Promise<{ latencyMs: number; events: number; byReplicas: { replicas: number; eventsPerSecond: number }[] }> {
  const { createServer } = await import('node:http');
  const { topicNames, parseConfig } = await import('../packages/core/src/index.ts');
  const N = quick ? 5_000 : 20_000;
  const out: { replicas: number; eventsPerSecond: number }[] = [];
  for (const replicas of [1, 2, 4]) {
    let received = 0;
    let first = 0;
    let last = 0;
    const sink = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (received++ === 0) first = performance.now();
        last = performance.now();
        setTimeout(() => res.writeHead(204).end(), 50);
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const raw = {
      kafka: { topicPrefix: `bench-scale-${replicas}-${Date.now()}.`, partitions: 12 },
      sources: [{ name: 'bench' }],
      destinations: [{ name: 'slow', url: `http://127.0.0.1:${(sink.address() as { port: number }).port}/hook`, timeoutMs: 5000 }],
    };
    const config = parseConfig(stringify(raw), {});
    const topic = topicNames(config.kafka.topicPrefix).delivery('slow');
    const { codec, producer } = await benchKafka(config.kafka, [topic]);
    for (let i = 0; i < N; i += 1000) {
      const messages = [];
      for (let n = i; n < Math.min(N, i + 1000); n++) messages.push({ key: `k${n}`, value: await codec.encode(topic, 'delivery', { eventId: `e${n}`, source: 'bench', destination: 'slow', receivedAt: Date.now(), orderingKey: `k${n}`, headers: { 'content-type': 'application/json' }, body: Buffer.from(`{"n":${n}}`), attempt: 0, replayId: null }) });
      await producer.send({ topic, messages });
    }
    await producer.disconnect();
    const file = join(tmpdir(), `hookyard-bench-scale-${randomBytes(3).toString('hex')}.yaml`);
    writeFileSync(file, stringify(raw));
    const procs = await Promise.all(Array.from({ length: replicas }, () => startProcess(join(root, 'services/deliverer/src/main.ts'), { ...addrs, HOOKYARD_CONFIG: file, LOG_LEVEL: 'info' }, /(deliverer consuming)/)));
    const deadline = Date.now() + 300_000;
    while (received < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    out.push({ replicas, eventsPerSecond: Math.round(received / ((last - first) / 1000)) });
    console.error(`scale: ${replicas} deliverer replica(s), 50 ms destination: ${out.at(-1)!.eventsPerSecond} events/s`);
    for (const p of procs) await stop(p.child);
    sink.close();
  }
  return { latencyMs: 50, events: N, byReplicas: out };
}
const scaleResult = stages.has('scale') ? await scaleStage() : null;

// Isolation stage (destination protection): a healthy destination fed at a fixed rate,
// beside a second healthy destination for half the time, then beside a destination that
// fails every request (503) for the whole outage, then — the failing one recovered and
// drained — beside the healthy one again for the other half. Same traffic, only the
// failure differs; the baseline is split around the outage so that drift over the run
// (heap growth, JIT, log segments) weighs on both sides alike. The healthy one's
// throughput and p99 (Kafka write → sink, sub-millisecond clock), the failing one's
// breaker transitions, and whether every held event was delivered exactly once.
interface IsolationRun { delivered: number; perSecond: number; p50: number; p99: number }
async function isolationStage(): Promise<{ rate: number; seconds: number; alone: IsolationRun; aloneBefore: IsolationRun; aloneAfter: IsolationRun; besideFailing: IsolationRun; ratio: { throughput: number; p99: number }; failing: { events: number; deliveredUnique: number; duplicates: number; requestsDuringOutage: number; breakerOpened: number; breakerClosed: number } }> {
  const { createServer } = await import('node:http');
  const { topicNames, parseConfig } = await import('../packages/core/src/index.ts');
  const RATE = 300;
  const SECONDS = quick ? 20 : 120;
  const clock = () => performance.timeOrigin + performance.now(); // ms with a fractional part
  const sinkFor = (answer: () => number) => {
    const seen: { id: string; t: number; at: number }[] = [];
    const requests = { n: 0 };
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.n++;
        const status = answer();
        if (status < 300) {
          const text = Buffer.concat(chunks).toString();
          seen.push({ id: String(req.headers['x-hookyard-event-id']), t: Number(/"t":([\d.]+)/.exec(text)?.[1] ?? 0), at: clock() });
        }
        res.writeHead(status).end();
      });
    });
    return { server, seen, requests };
  };
  let failingDown = true;
  const healthy = sinkFor(() => 204);
  const other = sinkFor(() => 204);
  const failing = sinkFor(() => (failingDown ? 503 : 204));
  for (const s of [healthy.server, other.server, failing.server]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s: typeof healthy.server) => (s.address() as { port: number }).port;
  const raw = {
    kafka: { topicPrefix: `bench-isolation-${Date.now()}.`, partitions: 6 },
    sources: [{ name: 'bench' }],
    destinations: [
      { name: 'healthy', url: `http://127.0.0.1:${port(healthy.server)}/hook` },
      { name: 'other', url: `http://127.0.0.1:${port(other.server)}/hook` },
      // Retries every 2 s, for longer than the outage: held events must not run out of attempts.
      { name: 'failing', url: `http://127.0.0.1:${port(failing.server)}/hook`, retry: { schedule: 'exponential', initialDelayMs: 2000, maxDelayMs: 10_000, maxAttempts: 100 }, breaker: { cooldownMs: 5000 } },
    ],
  };
  const config = parseConfig(stringify(raw), {});
  const topics = topicNames(config.kafka.topicPrefix);
  const { codec, producer } = await benchKafka(config.kafka, [topics.delivery('healthy'), topics.delivery('other'), topics.delivery('failing')]);
  const file = join(tmpdir(), `hookyard-bench-isolation-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, stringify(raw));
  const metricsPort = String(19500 + Math.floor(Math.random() * 400));
  const d = await startProcess(join(root, 'services/deliverer/src/main.ts'), { ...addrs, HOOKYARD_CONFIG: file, LOG_LEVEL: 'info', METRICS_PORT: metricsPort }, /(deliverer consuming)/);
  const pad = 'x'.repeat(960);
  let seq = 0;
  const enc = async (dest: string, t: number) => {
    const n = seq++;
    const topic = topics.delivery(dest);
    return { topic, key: `k${n % 500}`, value: await codec.encode(topic, 'delivery', { eventId: `${dest}-${n}`, source: 'bench', destination: dest, receivedAt: Math.floor(t), orderingKey: `k${n % 500}`, headers: { 'content-type': 'application/json' }, body: Buffer.from(`{"t":${t},"n":${n},"pad":"${pad}"}`), attempt: 0, replayId: null }) };
  };
  // Open loop: RATE per second per destination, in 20 ms slices, whatever the answers.
  const feed = async (dests: string[], seconds: number) => {
    const start = Date.now();
    for (let slice = 0; slice < seconds * 50; slice++) {
      const due = start + slice * 20;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const now = clock();
      const byTopic = new Map<string, { key: string; value: Buffer }[]>();
      for (const dest of dests) {
        for (let k = 0; k < RATE / 50; k++) {
          const m = await enc(dest, now);
          byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), { key: m.key, value: m.value }]);
        }
      }
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
  };
  const summarize = (...windows: [number, number][]): IsolationRun => {
    const got = healthy.seen.filter((x) => windows.some(([from, to]) => x.t >= from && x.t < to));
    const lat = got.map((x) => x.at - x.t).sort((a, b) => a - b);
    const pct = (p: number) => +(lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN).toFixed(2);
    const seconds = windows.reduce((n, [from, to]) => n + (to - from) / 1000, 0);
    return { delivered: got.length, perSecond: Math.round(got.length / seconds), p50: pct(50), p99: pct(99) };
  };
  const settle = async (count: () => number, target: number) => {
    const deadline = Date.now() + 120_000;
    while (count() < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  };
  // Warm-up: a fresh deliverer's first half-minute (JIT, leaders settling, connection pools)
  // is several times slower than its steady state, and would count against the baseline.
  await feed(['healthy', 'other'], quick ? 5 : 30);
  const before: [number, number] = [clock(), 0];
  await feed(['healthy', 'other'], SECONDS / 2);
  before[1] = clock();
  await settle(() => healthy.seen.length + other.seen.length, seq);
  const failingFrom = seq;
  const healthyBeforeOutage = healthy.seen.length;
  const beside: [number, number] = [clock(), 0];
  await feed(['healthy', 'failing'], SECONDS);
  beside[1] = clock();
  const requestsDuringOutage = failing.requests.n;
  failingDown = false;
  const failingEvents = (seq - failingFrom) / 2;
  await settle(() => new Set(failing.seen.map((x) => x.id)).size, failingEvents);
  await settle(() => healthy.seen.length, healthyBeforeOutage + failingEvents);
  await new Promise((r) => setTimeout(r, 2000));
  const after: [number, number] = [clock(), 0];
  await feed(['healthy', 'other'], SECONDS / 2);
  after[1] = clock();
  await settle(() => healthy.seen.length + other.seen.length + new Set(failing.seen.map((x) => x.id)).size, seq);
  const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
  const transitions = (event: string) => Number(new RegExp(`hookyard_deliverer_breaker_transitions_total\\{destination="failing",event="${event}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  await stop(d.child);
  await producer.disconnect();
  for (const s of [healthy.server, other.server, failing.server]) s.close();
  const alone = summarize(before, after);
  const aloneBefore = summarize(before);
  const aloneAfter = summarize(after);
  const besideFailing = summarize(beside);
  const unique = new Set(failing.seen.map((x) => x.id)).size;
  const r = {
    rate: RATE, seconds: SECONDS, alone, aloneBefore, aloneAfter, besideFailing,
    ratio: { throughput: +(besideFailing.perSecond / alone.perSecond).toFixed(3), p99: +(besideFailing.p99 / alone.p99).toFixed(3) },
    failing: { events: failingEvents, deliveredUnique: unique, duplicates: failing.seen.length - unique, requestsDuringOutage, breakerOpened: transitions('opened'), breakerClosed: transitions('closed') },
  };
  console.error(`isolation: healthy beside a healthy one ${alone.perSecond}/s p99 ${alone.p99} ms (before the outage ${aloneBefore.p99}, after ${aloneAfter.p99}); beside a failing destination ${besideFailing.perSecond}/s p99 ${besideFailing.p99} ms; failing: ${unique}/${failingEvents} delivered after recovery, ${r.failing.duplicates} duplicates, ${requestsDuringOutage} requests during the ${SECONDS} s outage, breaker opened ${r.failing.breakerOpened}× closed ${r.failing.breakerClosed}×`);
  return r;
}
const isolationResult = stages.has('isolation') ? await isolationStage() : null;

const result = {
  date: new Date().toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  machine: { cores: (await import('node:os')).availableParallelism(), node: process.version },
  bodyBytes: Buffer.byteLength(body),
  connections: CONNECTIONS,
  durationSeconds: DURATION,
  bareFastify: bareResult,
  ingress: ingressResult,
  router: routerResult,
  deliverer: delivererResult,
  replay: replayResult,
  brokerCeiling: ceilingResult,
  e2e: e2eResult,
  durability: durabilityResult,
  index: indexResult,
  routerDecisions: routerCost && { on: routerCost.on, off: routerCost.off, ratio: routerCost.ratio },
  scale: scaleResult,
  isolation: isolationResult,
  ratio: {
    ingressToBareFastify: ingressResult && bareResult ? +(ingressResult.max.rps / bareResult.max.rps).toFixed(3) : null,
    ingressToBareFastifyPerRound: ingressRoundRatios,
    // Each stage that writes to Kafka, against what the broker takes from its own producer.
    toBrokerCeiling: ceilingResult ? {
      ingress: ingressResult ? +(ingressResult.max.rps / ceilingResult.recordsPerSecond).toFixed(3) : null,
      router: routerResult ? +(routerResult.eventsPerSecond / ceilingResult.recordsPerSecond).toFixed(3) : null,
      deliverer: delivererResult ? +(delivererResult.eventsPerSecond / ceilingResult.recordsPerSecond).toFixed(3) : null,
      replay: replayResult ? +(replayResult.eventsPerSecond / ceilingResult.recordsPerSecond).toFixed(3) : null,
      e2e: e2eResult ? +(e2eResult.maxEventsPerSecond / ceilingResult.recordsPerSecond).toFixed(3) : null,
    } : null,
  },
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `${result.date.slice(0, 19).replace(/:/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
const row = (r: Measured) => `| ${r.name} | ${r.max.rps} | ${r.max.p99} | ${r.half.rps} | ${r.half.p50} | ${r.half.p99} | ${r.half.p999} | ${r.max.non2xx + r.half.non2xx} |`;
const lines: string[] = [];
if (bareResult && ingressResult) {
  lines.push('| target | max req/s | p99 at max (ms) | half rate req/s | p50 (ms) | p99 (ms) | p99.9 (ms) | non-2xx |', '| --- | --- | --- | --- | --- | --- | --- | --- |', row(bareResult), row(ingressResult), '', `ingress / bare fastify = ${result.ratio.ingressToBareFastify} (medians; per round ${ingressRoundRatios?.join(', ')})`);
}
if (routerResult) lines.push(`router (exactly-once, 1 KiB, 2 destinations each): ${routerResult.eventsPerSecond} events/s, ${routerResult.deliveriesPerSecond} deliveries/s over ${routerResult.events} events`);
if (delivererResult) lines.push(`deliverer (1 KiB, local sink): ${delivererResult.eventsPerSecond} deliveries/s; at ${delivererResult.paced.rate}/s Kafka→sink p50 ${delivererResult.paced.p50} ms, p99 ${delivererResult.paced.p99} ms`);
if (replayResult) lines.push(`replay (1 KiB, routed, one process): ${replayResult.eventsPerSecond} events/s over ${replayResult.events} events, peak RSS ${replayResult.peakRssMiB} MiB`);
if (ceilingResult) lines.push(`broker ceiling (Kafka ProducerPerformance, 1 KiB, acks=all): ${ceilingResult.recordsPerSecond} records/s; hookyard stages as a share of it: ${JSON.stringify(result.ratio.toBrokerCeiling)}`);
if (e2eResult) {
  lines.push(`end to end (ingress → router → deliverer → sink, 1 KiB): max ${e2eResult.maxEventsPerSecond} events/s`);
  for (const l of e2eResult.levels) {
    lines.push(`  at ${l.targetRate}/s (half to a per-key destination): unordered p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms; per-key p50 ${l.keyed.p50} ms, p99 ${l.keyed.p99} ms, p99.9 ${l.keyed.p999} ms (${l.delivered}/${l.sent} delivered); p50 age at router fetch ${l.hops.routerFetchedP50} ms, at deliverer fetch ${l.hops.delivererFetchedP50} ms, at request start ${l.hops.requestStartedP50} ms`);
    lines.push(`    deliverer stages ms p50/p99: ${formatStages(l.stages)}`);
  }
  for (const [n, r] of Object.entries(e2eResult.resources)) lines.push(`  ${n}: ${r.cpuSecondsPer1000} CPU s per 1,000 events, peak RSS ${r.peakRssMiB} MiB (after the maximum run: V8 heap ${r.heapUsedMiB}/${r.heapTotalMiB} MiB used/total, external ${r.externalMiB} MiB)`);
}
if (durabilityResult) {
  const d = durabilityResult;
  lines.push(`durability (same run, modes alternating; medians): fsync max ${d.median.fsync.maxEventsPerSecond}/s, at 80/s p50 ${d.median.fsync.at80.p50} ms p99 ${d.median.fsync.at80.p99} ms, at half p50 ${d.median.fsync.atHalf.p50} ms p99 ${d.median.fsync.atHalf.p99} ms; replicated max ${d.median.replicated.maxEventsPerSecond}/s, at 80/s p50 ${d.median.replicated.at80.p50} ms p99 ${d.median.replicated.at80.p99} ms, at half p50 ${d.median.replicated.atHalf.p50} ms p99 ${d.median.replicated.atHalf.p99} ms; fsync/replicated: max ×${d.ratio.max}, p99 at 80/s ×${d.ratio.p99At80}, at half ×${d.ratio.p99AtHalf}`);
}
if (routerCost) lines.push(`router with routing-decisions / without (events/s, rounds off ${routerCost.off.join(', ')}; on ${routerCost.on.join(', ')}): ×${routerCost.ratio}`);
if (indexResult) {
  for (const [k, rounds] of Object.entries(indexResult.live ?? {})) for (const [i, l] of rounds.entries()) lines.push(`index ${k} live round ${i + 1}: ${l.delivered} delivered at ${l.deliveredPerSecond}/s, ${l.indexed} indexed at ${l.indexedPerSecond}/s (×${(l.indexedPerSecond / l.deliveredPerSecond).toFixed(2)}; delivered but not indexed: at most ${l.maxLag} during the load, ${l.lagAtLoadEnd} when it stopped; all indexed ${l.indexBehindS} s after the last delivery); console${k === 'postgres' ? ' + PostgreSQL' : ''} CPU share ${(l.consoleCpuShare * 100).toFixed(0)} % (${JSON.stringify(l.cpuSeconds)})`);
  for (const [k, c] of Object.entries(indexResult.catchUp)) lines.push(`index ${k}: ${c.events} events (${c.records} records) indexed in ${c.seconds} s = ${c.eventsPerSecond} events/s${e2eResult ? ` (×${(c.eventsPerSecond / e2eResult.maxEventsPerSecond).toFixed(2)} of this run's e2e maximum)` : ''}, ${c.cpuSecondsPer1000} CPU s per 1,000 events`);
  for (const [k, x] of Object.entries(indexResult.search)) lines.push(`index ${k}: ${x.events} events written at ${x.writeEventsPerSecond}/s, ${x.bytesPerEvent} bytes per event; ${Object.entries(x.queries).map(([n, v]) => `${n} p50 ${v.p50} / p95 ${v.p95} ms`).join('; ')}`);
}
if (scaleResult) lines.push(`scale (50 ms destination): ${scaleResult.byReplicas.map((r) => `${r.replicas} replica(s) ${r.eventsPerSecond}/s`).join(', ')}`);
if (isolationResult) {
  const i = isolationResult;
  lines.push(`isolation (${i.rate}/s each, ${i.seconds} s outage): healthy beside a healthy destination ${i.alone.perSecond}/s p99 ${i.alone.p99} ms (before ${i.aloneBefore.p99}, after ${i.aloneAfter.p99}); beside a failing destination ${i.besideFailing.perSecond}/s p99 ${i.besideFailing.p99} ms (throughput ×${i.ratio.throughput}, p99 ×${i.ratio.p99}); failing: ${i.failing.deliveredUnique}/${i.failing.events} delivered after recovery, ${i.failing.duplicates} duplicates, breaker opened ${i.failing.breakerOpened}× closed ${i.failing.breakerClosed}×`);
}
lines.push(`results: ${file}`);
console.log(lines.join('\n'));
if (ownStack) {
  await down(stackOptions(), { wipe: true });
  stackDown = true;
}
