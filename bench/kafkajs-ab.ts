// node bench/kafkajs-ab.ts [--seconds=60] [--window=2000]: hookyard's kafkajs encoding
// speed-ups against kafkajs's own encoders, in one ingress process at full load. The mode
// flips every window (2 s), so both modes share the same minutes: on two shared cores one
// run of the same code ranges over ±25 % from minute to minute, far more than the effect.
// The partitioner and the grouping are the same in both modes (kafkajs takes them once).
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { buildIngress } from '../services/ingress/src/app.ts';
import { createLogger, parseConfig, runtimeEnv } from '../packages/core/src/index.ts';
import { Encoder, original, produce, records } from '../packages/core/src/kafkajs/encoding.ts';
import { framing } from '../packages/core/src/kafkajs/request.ts';
import { down, stackOptions, up } from '../scripts/infra/local-stack.ts';

if (process.argv.includes('--help')) {
  console.log(`Usage: node bench/kafkajs-ab.ts [--seconds=60] [--window=2000]

Runs hookyard ingress in this process at full load (autocannon, 64 connections, 1 KiB
bodies, acks=all) and flips, every window, between hookyard's kafkajs encoding speed-ups
(packages/core/src/kafkajs/encoding.ts, kafkajs/request.ts) and kafkajs's own encoders. Prints the median
requests/s and CPU per request of each mode and the ratio of adjacent windows. Uses a
fresh stack of its own on ports 25092/25379/25081 (wiped at the end).`);
  process.exit(0);
}
const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const SECONDS = arg('seconds', 60);
const WINDOW = arg('window', 2000);
const root = resolve(import.meta.dirname, '..');

process.env.HOOKYARD_KAFKA_PORT ??= '25092';
process.env.HOOKYARD_REDIS_PORT ??= '25379';
process.env.HOOKYARD_REGISTRY_PORT ??= '25081';
process.env.HOOKYARD_STACK_DIR ??= join(tmpdir(), `hookyard-ab-stack-${process.pid}`);
const addrs = await up(stackOptions(), (m) => console.error(m));
Object.assign(process.env, addrs);

const proto = Encoder.prototype;
const ours = { ensureAvailable: proto.ensureAvailable, writeUVarInt: proto.writeUVarInt, writeVarLong: proto.writeVarLong, sizeOfVarLong: Encoder.sizeOfVarLong, record: records.encode };
function mode(name: 'hookyard' | 'kafkajs'): void {
  const src = name === 'hookyard' ? ours : original;
  Object.assign(proto, { ensureAvailable: src.ensureAvailable, writeUVarInt: src.writeUVarInt, writeVarLong: src.writeVarLong });
  Encoder.sizeOfVarLong = src.sizeOfVarLong;
  records.encode = name === 'hookyard' ? ours.record : records.original;
  produce.fast = name === 'hookyard';
  framing.fast = name === 'hookyard';
}

const config = parseConfig(`kafka: { topicPrefix: "ab-${Date.now()}.", partitions: 6 }\nsources: [{ name: bench, orderingKey: body.data.object.customer }]\n`, {});
const ingress = buildIngress({ config, env: runtimeEnv(), log: createLogger('ingress', 'error') });
let answered = 0;
ingress.app.addHook('onResponse', (_req, _reply, done) => { answered++; done(); });
const address = await ingress.start({ port: 0, host: '127.0.0.1' });
for (let i = 0; i < 60 && (await fetch(`${address}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 500));

const body = JSON.stringify({ id: 'evt_bench', type: 'invoice.paid', data: { object: { customer: 'cus_bench' } }, pad: 'x'.repeat(900) }).slice(0, 1024);
const load = spawn(process.execPath, [join(root, 'node_modules/autocannon/autocannon.js'), '-c', '64', '-d', String(SECONDS + 15), '-m', 'POST',
  '-H', 'content-type=application/json', '-b', body, `${address}/webhooks/bench`], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 10_000)); // warm-up: JIT, and the fresh broker JVM

const windows: Record<string, { rps: number; cpuUs: number }[]> = { hookyard: [], kafkajs: [] };
const end = Date.now() + SECONDS * 1000;
for (let i = 0; Date.now() < end; i++) {
  const name = i % 2 === 0 ? 'hookyard' : 'kafkajs';
  mode(name);
  await new Promise((r) => setTimeout(r, 200)); // the other mode's batch in flight settles
  const n0 = answered, c0 = process.cpuUsage(), t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW));
  const c = process.cpuUsage(c0), n = answered - n0;
  windows[name]!.push({ rps: (n / (performance.now() - t0)) * 1000, cpuUs: (c.user + c.system) / n });
}
load.kill();
mode('hookyard');
await ingress.close();
await down(stackOptions(), { wipe: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const h = windows.hookyard!, k = windows.kafkajs!;
const pairs = k.map((w, i) => h[i]!.rps / w.rps);
console.log(`hookyard encoders: median ${median(h.map((w) => w.rps)).toFixed(0)} req/s, ${median(h.map((w) => w.cpuUs)).toFixed(1)} µs CPU per request (${h.length} windows)`);
console.log(`kafkajs encoders:  median ${median(k.map((w) => w.rps)).toFixed(0)} req/s, ${median(k.map((w) => w.cpuUs)).toFixed(1)} µs CPU per request (${k.length} windows)`);
console.log(`hookyard / kafkajs, adjacent windows: median ${median(pairs).toFixed(3)} (${pairs.map((p) => p.toFixed(2)).join(' ')})`);
process.exit(0);
