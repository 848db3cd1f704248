// npm run test:faults — the fault-injection suite on a fresh stack of its own, then the
// table of figures RELIABILITY.md carries. See --help.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { down, exportLines, stackOptions, up } from '../../scripts/infra/local-stack.ts';
import type { FaultResult } from './support/pipeline.ts';

const HELP = `Usage: npm run test:faults [-- [--only=<name,…>] [--reuse-stack]]

Runs every fault scenario (test/faults/*.fault.ts) as its own test: the whole pipeline
as separate processes against real Kafka, Redis and the registry, with kill -9, rolling
SIGTERM, a broker killed, a 3-broker cluster losing one, Redis restarted empty, broken
destinations, network faults through a TCP proxy, a 100,000-request fuzz run, and a power
cut under one broker in both modes of kafka.durability (its data on lossyfs, a FUSE
filesystem that drops unsynced writes; installs Debian's fuse3 and mfusepy on first use).
Prints one line of figures per scenario and writes them, with a Markdown table, to
test/faults/results/<time>.{jsonl,md}. Takes 10–18 minutes on 2 cores.

  --only=kill-9,fuzz   run only these scenario files (names without .fault.ts)
  --reuse-stack        use the stack in KAFKA_BROKERS/REDIS_URL/SCHEMA_REGISTRY_URL (or the
                       default one) instead of a fresh one on ports 22092/22379/22081

Environment: FAULT_DOWN_MS (destination outage, 120000), FUZZ_REQUESTS (100000),
FUZZ_SEED (random; printed), FAULT_CLUSTER_PORT (23100), FAULT_PROXY_KAFKA_PORT (23200),
FAULT_POWER_PORT (23300), POWER_CUT_EVENTS (1000).`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}
const unknown = args.filter((a) => !a.startsWith('--only=') && a !== '--reuse-stack');
if (unknown.length) {
  console.error(`test:faults: unknown argument ${unknown[0]} (see --help)`);
  process.exit(2);
}

const dir = resolve(import.meta.dirname);
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const files = (only ?? ['kill-9', 'rolling-restart', 'broker-restart', 'cluster-broker', 'redis-restart', 'destinations', 'network', 'fuzz', 'power-cut'])
  .map((n) => join(dir, `${n}.fault.ts`));
for (const f of files) if (!existsSync(f)) { console.error(`test:faults: no scenario ${f}`); process.exit(2); }

// A fresh stack: scenarios kill its broker and Redis, and a developer's stack full of
// test topics is slower. Its own ports, so a running dev or CI stack is not touched.
const ownStack = !args.includes('--reuse-stack');
if (ownStack) {
  // Below Linux's ephemeral range (32768+), where a client socket could hold the port.
  process.env.HOOKYARD_KAFKA_PORT = '22092';
  process.env.HOOKYARD_REDIS_PORT = '22379';
  process.env.HOOKYARD_REGISTRY_PORT = '22081';
  process.env.HOOKYARD_STACK_DIR = join(stackOptions().cacheDir, `faults-${Date.now()}`);
  delete process.env.KAFKA_BROKERS;
}
const addrs = await up(stackOptions(), (m) => console.error(m)).catch(async (err: unknown) => {
  // What did start (Kafka, say, when the registry could not) must not outlive the run.
  if (ownStack) await down(stackOptions(), { wipe: true }).catch(() => {});
  throw err;
});
console.error(exportLines(addrs));

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const resultsDir = join(dir, 'results');
mkdirSync(resultsDir, { recursive: true });
const jsonl = join(resultsDir, `${stamp}.jsonl`);
writeFileSync(jsonl, '');
const started = Date.now();
const code = await new Promise<number>((r) => {
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=900000', ...files], {
    stdio: 'inherit', env: { ...process.env, ...addrs, FAULTS_REPORT: jsonl },
  });
  child.on('exit', (c) => r(c ?? 1));
});
if (ownStack) await down(stackOptions(), { wipe: true });

const rows = readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FaultResult);
const table = [
  '| scenario | accepted | delivered (unique) | lost | duplicates (redelivered / recaptured) | per-key order violations | ingress answers during the fault (2xx / 503 / other / conn. error) | time to recover |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ...rows.map((r) => `| ${r.scenario} | ${r.accepted} | ${r.delivered} of ${r.expectedDeliveries} | ${r.lost} | ${r.duplicates} (${r.redelivered} / ${r.recaptured}) | ${r.orderViolations} | ${r.answers['2xx']} / ${r.answers['503']} / ${r.answers.other} / ${r.answers.error} | ${r.recoverMs ? `${(r.recoverMs / 1000).toFixed(1)} s` : '–'} |`),
].join('\n');
const notes = rows.map((r) => `- **${r.scenario}**: ${r.faults.join('; ') || 'no infrastructure fault'}.${r.notes ? ` ${r.notes}` : ''}`).join('\n');
const md = `${table}\n\n${notes}\n`;
writeFileSync(join(resultsDir, `${stamp}.md`), md);
console.log(`\n${md}\nsuite ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 60_000).toFixed(1)} min; figures in ${jsonl}`);
process.exit(code);
