// Extra Kafka clusters for fault tests, beside the main stack (whose Redis and registry
// they share): N combined broker+controller nodes with a static quorum, and optionally
// a client listener advertised at another port (where a TCP fault proxy sits).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { brokerDefaults, kafkaReady, kafkaJava, kafkaLibs, singleCopyDurability, type StackOptions } from './local-stack.ts';

export interface ClusterOptions {
  nodes: number;
  /** Node i (0-based) listens for clients on basePort + 10·i, its controller on +1, its internal listener on +2. */
  basePort: number;
  /** Clients are told to connect here instead (one per node), e.g. a TCP proxy in front of the client port. */
  advertisedPorts?: number[];
  /** Broker-wide min.insync.replicas (and the internal topics' replication). */
  minInsyncReplicas?: number;
  dir: string;
  /** Where the nodes keep their logs (node-N below it); default `dir` (the power-cut test puts them on lossyfs). */
  dataDir?: string;
  /** log.flush.interval.messages=1 (default: with a single copy, as hookyard's own stacks). */
  flushEveryWrite?: boolean;
}

export interface KafkaCluster {
  /** Bootstrap list clients should use (the advertised addresses). */
  brokers: string;
  kill(node: number): Promise<void>;
  start(node: number): Promise<void>;
  /** Stops every node and deletes the data. */
  destroy(): Promise<void>;
}

function props(o: ClusterOptions, i: number): string {
  const port = (n: number) => o.basePort + 10 * n;
  const voters = Array.from({ length: o.nodes }, (_, n) => `${n + 1}@127.0.0.1:${port(n) + 1}`).join(',');
  const rf = Math.min(3, o.nodes);
  const isr = o.minInsyncReplicas ?? 1;
  const advertised = o.advertisedPorts?.[i] ?? port(i);
  return [
    'process.roles=broker,controller',
    `node.id=${i + 1}`,
    `controller.quorum.voters=${voters}`,
    `listeners=CLIENT://127.0.0.1:${port(i)},CONTROLLER://127.0.0.1:${port(i) + 1},INTERNAL://127.0.0.1:${port(i) + 2}`,
    `advertised.listeners=CLIENT://127.0.0.1:${advertised},INTERNAL://127.0.0.1:${port(i) + 2}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT',
    'inter.broker.listener.name=INTERNAL',
    `log.dirs=${join(o.dataDir ?? o.dir, `node-${i + 1}`, 'data')}`,
    `default.replication.factor=${rf}`,
    `min.insync.replicas=${isr}`,
    ...brokerDefaults(rf, isr),
    ...((o.flushEveryWrite ?? rf === 1) ? singleCopyDurability() : []),
    // A killed node's partitions move to the others quickly, so the run does not wait on it.
    'replica.lag.time.max.ms=10000',
    '',
  ].join('\n');
}

function log4j(file: string): string {
  return [
    'status = warn',
    'appender.file.type = File', 'appender.file.name = FILE', `appender.file.fileName = ${file}`,
    'appender.file.layout.type = PatternLayout', 'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = WARN', 'rootLogger.appenderRef.file.ref = FILE', '',
  ].join('\n');
}

export async function startKafkaCluster(stack: StackOptions, o: ClusterOptions): Promise<KafkaCluster> {
  const libs = kafkaLibs(stack);
  const java = kafkaJava();
  const cp = join(libs, '*');
  const clusterId = randomUUID().replace(/-/g, '').slice(0, 22);
  const children = new Map<number, ChildProcess>();
  const listenPorts = Array.from({ length: o.nodes }, (_, i) => o.basePort + 10 * i);
  const brokers = listenPorts.map((p, i) => `127.0.0.1:${o.advertisedPorts?.[i] ?? p}`).join(',');
  mkdirSync(o.dir, { recursive: true });

  const nodeDir = (i: number) => join(o.dir, `node-${i + 1}`);
  const jvmLog = (i: number) => [`-Dlog4j2.configurationFile=${join(nodeDir(i), 'log4j2.properties')}`, `-Dkafka.logs.dir=${nodeDir(i)}`];
  for (let i = 0; i < o.nodes; i++) {
    mkdirSync(nodeDir(i), { recursive: true });
    writeFileSync(join(nodeDir(i), 'server.properties'), props(o, i));
    writeFileSync(join(nodeDir(i), 'log4j2.properties'), log4j(join(nodeDir(i), 'kafka.log')));
    const r = spawnSync(java, [...jvmLog(i), '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', join(nodeDir(i), 'server.properties'), '--ignore-formatted'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`format of node ${i + 1} failed: ${r.stdout}${r.stderr}`);
  }

  const aliveNode = (i: number) => { const c = children.get(i); return c !== undefined && c.exitCode === null && c.signalCode === null; };
  const start = async (i: number): Promise<void> => {
    // A node killed by a signal has no exit code either: it must count as stopped.
    if (aliveNode(i)) return;
    const out = openSync(join(nodeDir(i), 'kafka.out'), 'a');
    const child = spawn(java, ['-Xms128m', '-Xmx512m', '-XX:+UseG1GC', ...jvmLog(i), '-cp', cp, 'kafka.Kafka', join(nodeDir(i), 'server.properties')], { stdio: ['ignore', out, out] });
    children.set(i, child);
  };
  const direct = listenPorts.map((p) => `127.0.0.1:${p}`);
  const ready = async () => {
    // Every live node answers metadata on its own port.
    for (let i = 0; i < o.nodes; i++) if (aliveNode(i) && !(await kafkaReady(direct[i]!))) return false;
    return true;
  };
  const waitReady = async (what: string) => {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (await ready()) return;
      for (let i = 0; i < o.nodes; i++) {
        if (children.has(i) && !aliveNode(i)) throw new Error(`${what}: node ${i + 1} exited:\n${tail(join(nodeDir(i), 'kafka.out'))}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${what}: not ready in 120 s:\n${tail(join(nodeDir(0), 'kafka.log'))}`);
  };

  for (let i = 0; i < o.nodes; i++) await start(i);
  await waitReady('Kafka cluster');
  return {
    brokers,
    async kill(i) {
      const c = children.get(i);
      if (!c || !aliveNode(i)) return;
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    },
    async start(i) {
      await start(i);
      await waitReady(`Kafka node ${i + 1}`);
    },
    async destroy() {
      for (const [i, c] of children) {
        if (!aliveNode(i)) continue;
        c.kill('SIGKILL');
        await new Promise((r) => c.once('exit', r));
      }
      rmSync(o.dir, { recursive: true, force: true });
    },
  };
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-30).join('\n') : '';
}
