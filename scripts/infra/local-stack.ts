// Local Kafka (KRaft), Redis and a Confluent-compatible registry as plain processes,
// for machines without a Docker engine (CI here, laptops without Docker).
// Downloads are cached under HOOKYARD_CACHE (default ~/.cache/hookyard); each stack's
// state lives under its own directory keyed by the Kafka port, so two stacks coexist.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import '../../packages/core/src/kafkajs/node-warnings.ts';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { pgDown } from './postgres.ts';

export const KAFKA_VERSION = '4.3.1';
// Apicurio 3.2+ is built for Java 21; 3.0.9 is the newest line that runs on Java 17.
export const APICURIO_VERSION = '3.3.3';
export const APICURIO_JAVA17_VERSION = '3.0.9';

export interface StackOptions {
  kafkaPort: number;
  redisPort: number;
  registryPort: number;
  cacheDir: string;
  stateDir: string;
}

export interface StackAddresses {
  KAFKA_BROKERS: string;
  SCHEMA_REGISTRY_URL: string;
  REDIS_URL: string;
}

const repoRoot = resolve(import.meta.dirname, '..', '..');

export function stackOptions(env: NodeJS.ProcessEnv = process.env): StackOptions {
  const kafkaPort = Number(env.HOOKYARD_KAFKA_PORT ?? 19092);
  const cacheDir = env.HOOKYARD_CACHE ?? join(homedir(), '.cache', 'hookyard');
  return {
    kafkaPort,
    redisPort: Number(env.HOOKYARD_REDIS_PORT ?? 16379),
    registryPort: Number(env.HOOKYARD_REGISTRY_PORT ?? 18081),
    cacheDir,
    stateDir: env.HOOKYARD_STACK_DIR ?? join(cacheDir, `stack-${kafkaPort}`),
  };
}

export function addresses(o: StackOptions): StackAddresses {
  return {
    KAFKA_BROKERS: `127.0.0.1:${o.kafkaPort}`,
    SCHEMA_REGISTRY_URL: `http://127.0.0.1:${o.registryPort}/apis/ccompat/v7`,
    REDIS_URL: `redis://127.0.0.1:${o.redisPort}`,
  };
}

type Log = (msg: string) => void;

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${what} failed (${cmd} exit ${r.status ?? r.signal}):\n${(r.stdout ?? '') + (r.stderr ?? '')}`.slice(0, 4000));
  }
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Quarkus builds of Apicurio 3.2+ need Java 21; Kafka needs 17. Pick the newest JDK found. */
function javaFor(minMajor: number): string {
  const found = findJava(minMajor);
  if (!found) throw new Error(`no Java ${minMajor}+ found (JAVA_HOME or /usr/lib/jvm); install openjdk-${minMajor}-jre-headless`);
  return found;
}

function findJava(minMajor: number): string | undefined {
  const candidates: { major: number; bin: string }[] = [];
  const add = (home: string | undefined) => {
    if (!home) return;
    const bin = join(home, 'bin', 'java');
    if (!existsSync(bin)) return;
    const r = spawnSync(bin, ['-version'], { encoding: 'utf8' });
    const m = /version "(\d+)/.exec(r.stderr ?? '');
    if (m?.[1]) candidates.push({ major: Number(m[1]), bin });
  };
  add(process.env.JAVA_HOME);
  if (existsSync('/usr/lib/jvm')) for (const d of readdirSync('/usr/lib/jvm')) add(join('/usr/lib/jvm', d));
  const sys = which('java');
  if (sys) add(resolve(sys, '..', '..'));
  candidates.sort((a, b) => b.major - a.major);
  return candidates.find((c) => c.major >= minMajor)?.bin;
}

/** The Kafka jars (downloaded once) and a Java to run them, for tools and extra clusters. */
export function kafkaLibs(o: StackOptions): string {
  return ensureKafka(o, () => {});
}

export function kafkaJava(): string {
  return javaFor(17);
}

function ensureKafka(o: StackOptions, log: Log): string {
  const libs = join(o.cacheDir, `kafka-${KAFKA_VERSION}`, 'libs');
  if (existsSync(join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`))) return libs;
  log(`downloading Apache Kafka ${KAFKA_VERSION} jars from Maven Central…`);
  run('mvn', ['-q', '-B', '-f', join(repoRoot, 'scripts/infra/kafka-pom.xml'), `-Dkafka.version=${KAFKA_VERSION}`,
    'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libs}`], 'Kafka jar download');
  return libs;
}

/** 3.1+ ship Quarkus's fast-jar layout (quarkus-run.jar); 3.0.x a legacy *-runner.jar. */
function apicurioJar(dir: string): string | undefined {
  if (existsSync(join(dir, 'quarkus-run.jar'))) return 'quarkus-run.jar';
  return existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('-runner.jar')) : undefined;
}

function ensureApicurio(o: StackOptions, log: Log, version: string): string {
  const dir = join(o.cacheDir, `apicurio-${version}`);
  if (apicurioJar(dir)) return dir;
  log(`downloading Apicurio Registry ${version} from Maven Central…`);
  const dl = join(o.cacheDir, 'dl');
  run('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=io.apicurio:apicurio-registry-app:${version}:tar.gz:all`,
    `-DoutputDirectory=${dl}`], 'Apicurio download');
  mkdirSync(dir, { recursive: true });
  run('tar', ['xzf', join(dl, `apicurio-registry-app-${version}-all.tar.gz`), '-C', dir], 'Apicurio unpack');
  rmSync(join(dl, `apicurio-registry-app-${version}-all.tar.gz`), { force: true });
  return dir;
}

function ensureRedis(log: Log): string {
  const found = which('redis-server');
  if (found) return found;
  log('installing redis-server from Debian…');
  run('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server'], 'redis-server install');
  const again = which('redis-server');
  if (!again) throw new Error('redis-server still missing after apt-get install');
  return again;
}

function pidFile(o: StackOptions, name: string): string {
  return join(o.stateDir, `${name}.pid`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(o: StackOptions, name: string): number | undefined {
  const f = pidFile(o, name);
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

function startDetached(o: StackOptions, name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): number {
  const out = openSync(join(o.stateDir, `${name}.out`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: { ...process.env, ...env }, cwd });
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name}`);
  writeFileSync(pidFile(o, name), String(child.pid));
  return child.pid;
}

// ---- readiness: real protocol calls ----

/** A peer that accepts TCP but never answers must read as "not ready", not hang. */
function within(ms: number, p: Promise<boolean>): Promise<boolean> {
  return Promise.race([p, new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
}

export function kafkaReady(brokers: string): Promise<boolean> {
  return within(5000, kafkaMetadata(brokers));
}

async function kafkaMetadata(brokers: string): Promise<boolean> {
  const kafka = new Kafka({ clientId: 'hookyard-infra', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000, requestTimeout: 3000 });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const c = await admin.describeCluster();
    return c.brokers.length > 0 && c.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export function redisReady(url: string): Promise<boolean> {
  return within(3000, redisPing(url));
}

async function redisPing(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 1000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function registryReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
    return res.ok && Array.isArray(await res.json());
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, pid: number | undefined, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (pid !== undefined && !alive(pid)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
  throw new Error(`${what} did not become ready (see ${logFile}):\n${tail}`);
}

// ---- the stack ----

function kafkaProps(o: StackOptions): string {
  const dataDir = join(o.stateDir, 'kafka-data');
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${o.kafkaPort + 1}`,
    `listeners=PLAINTEXT://127.0.0.1:${o.kafkaPort},CONTROLLER://127.0.0.1:${o.kafkaPort + 1}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${o.kafkaPort}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDir}`,
    // A single broker cannot satisfy the multi-replica defaults of the internal topics.
    ...brokerDefaults(1, 1),
    // One copy: every write on disk before it is acknowledged, Kafka's own offsets and
    // transaction state included (hookyard's topics also get flush.messages=1 under
    // kafka.durability: fsync, the default on one broker). See README, "What a 202 means".
    ...singleCopyDurability(),
    'log.retention.hours=168',
    '',
  ].join('\n');
}

/** A broker holding the only copy flushes every write before acknowledging it. */
export function singleCopyDurability(): string[] {
  return ['log.flush.interval.messages=1'];
}

/** Settings every local broker gets, for `rf` replicas of the internal topics and `minIsr`. */
export function brokerDefaults(rf: number, minIsr: number): string[] {
  return [
    'num.partitions=3',
    `offsets.topic.replication.factor=${rf}`,
    'offsets.topic.num.partitions=10',
    `transaction.state.log.replication.factor=${rf}`,
    `transaction.state.log.min.isr=${minIsr}`,
    'transaction.state.log.num.partitions=10',
    `share.coordinator.state.topic.replication.factor=${rf}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'message.max.bytes=10485760',
  ];
}

function log4jProps(o: StackOptions): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = FILE',
    `appender.file.fileName = ${join(o.stateDir, 'kafka.log')}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.file.ref = FILE',
    'logger.kafka.name = kafka',
    'logger.kafka.level = INFO',
    'logger.apache.name = org.apache',
    'logger.apache.level = WARN',
    '',
  ].join('\n');
}

async function upKafka(o: StackOptions, log: Log): Promise<void> {
  const brokers = addresses(o).KAFKA_BROKERS;
  if (readPid(o, 'kafka') !== undefined && (await kafkaReady(brokers))) return;
  const libs = ensureKafka(o, log);
  const java = javaFor(17);
  const cp = join(libs, '*');
  const props = join(o.stateDir, 'server.properties');
  writeFileSync(props, kafkaProps(o));
  writeFileSync(join(o.stateDir, 'log4j2.properties'), log4jProps(o));
  const jvmLog = [`-Dlog4j2.configurationFile=${join(o.stateDir, 'log4j2.properties')}`, `-Dkafka.logs.dir=${o.stateDir}`];
  if (!existsSync(join(o.stateDir, 'kafka-data', 'meta.properties'))) {
    run(java, [...jvmLog, '-cp', cp, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', randomUUID().replace(/-/g, '').slice(0, 22), '-c', props, '--ignore-formatted'], 'Kafka storage format');
  }
  log(`starting Kafka ${KAFKA_VERSION} on 127.0.0.1:${o.kafkaPort}`);
  const pid = startDetached(o, 'kafka', java, ['-Xms256m', '-Xmx1g', '-XX:+UseG1GC', ...jvmLog, '-cp', cp, 'kafka.Kafka', props]);
  await waitFor('Kafka', () => kafkaReady(brokers), 90_000, pid, join(o.stateDir, 'kafka.out'));
}

async function upRedis(o: StackOptions, log: Log): Promise<void> {
  const url = addresses(o).REDIS_URL;
  if (readPid(o, 'redis') !== undefined && (await redisReady(url))) return;
  const bin = ensureRedis(log);
  log(`starting Redis on 127.0.0.1:${o.redisPort}`);
  const dir = join(o.stateDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const pid = startDetached(o, 'redis', bin, ['--port', String(o.redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no']);
  await waitFor('Redis', () => redisReady(url), 20_000, pid, join(o.stateDir, 'redis.out'));
}

async function upRegistry(o: StackOptions, log: Log): Promise<void> {
  const url = addresses(o).SCHEMA_REGISTRY_URL;
  if (readPid(o, 'registry') !== undefined && (await registryReady(url))) return;
  const java21 = findJava(21);
  const version = process.env.HOOKYARD_APICURIO_VERSION ?? (java21 ? APICURIO_VERSION : APICURIO_JAVA17_VERSION);
  const java = version.startsWith('3.0.') ? javaFor(17) : java21 ?? javaFor(21);
  const dir = ensureApicurio(o, log, version);
  const jar = apicurioJar(dir);
  if (!jar) throw new Error(`no runnable jar in ${dir}`);
  log(`starting Apicurio Registry ${version} on 127.0.0.1:${o.registryPort}`);
  const pid = startDetached(o, 'registry', java, ['-Xmx512m', '-jar', jar], {
    QUARKUS_HTTP_HOST: '127.0.0.1',
    QUARKUS_HTTP_PORT: String(o.registryPort),
    // Quarkus's management interface (health, metrics) listens on 0.0.0.0:9000 by default:
    // every interface, and one port for every stack, so a second stack (the fault suite or
    // the bench beside a developer's) could not start. Loopback, beside the API port.
    QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
    QUARKUS_MANAGEMENT_PORT: String(o.registryPort + 1),
    QUARKUS_LOG_LEVEL: 'WARN',
    APICURIO_CCOMPAT_USE_CANONICAL_HASH: 'true',
  }, dir);
  await waitFor('Schema registry', () => registryReady(url), 120_000, pid, join(o.stateDir, 'registry.out'));
}

/** A directory lock, so parallel test processes asking for the stack start it once. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Runs one of Kafka's own tools (e.g. org.apache.kafka.tools.ProducerPerformance) from the
 * jars the broker runs on, logging to the stack's log file; resolves with its stdout.
 */
export function runKafkaTool(o: StackOptions, mainClass: string, args: string[]): Promise<string> {
  const libs = ensureKafka(o, () => {});
  const java = javaFor(17);
  return new Promise((resolvePromise, reject) => {
    const p = spawn(java, [`-Dlog4j2.configurationFile=${join(o.stateDir, 'log4j2.properties')}`, '-Xmx512m', '-cp', join(libs, '*'), mainClass, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    p.on('exit', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${mainClass} exited ${code}: ${err.slice(-2000)}`))));
  });
}

export async function up(o: StackOptions = stackOptions(), log: Log = (m) => console.error(m)): Promise<StackAddresses> {
  mkdirSync(o.stateDir, { recursive: true });
  // Registry and Redis start while Kafka boots; the JVMs dominate start-up time.
  await withLock(o.stateDir, () => Promise.all([upKafka(o, log), upRedis(o, log), upRegistry(o, log)]));
  return addresses(o);
}

const NAMES = ['registry', 'redis', 'kafka'] as const;

export async function down(o: StackOptions = stackOptions(), opts: { wipe?: boolean } = {}): Promise<void> {
  // Started on demand (the PostgreSQL store's tests, a postgres-backed console).
  try { pgDown(o); } catch { /* not installed or not ours */ }
  for (const name of NAMES) {
    const pid = readPid(o, name);
    if (pid !== undefined) {
      try { process.kill(-pid, 'SIGTERM'); } catch { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
      const deadline = Date.now() + 20_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      if (alive(pid)) { try { process.kill(-pid, 'SIGKILL'); } catch { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } }
    }
    rmSync(pidFile(o, name), { force: true });
  }
  if (opts.wipe) rmSync(o.stateDir, { recursive: true, force: true });
}

export async function status(o: StackOptions = stackOptions()): Promise<Record<string, { pid: number | undefined; ready: boolean }>> {
  const a = addresses(o);
  const [k, r, g] = await Promise.all([kafkaReady(a.KAFKA_BROKERS), redisReady(a.REDIS_URL), registryReady(a.SCHEMA_REGISTRY_URL)]);
  return {
    kafka: { pid: readPid(o, 'kafka'), ready: k },
    redis: { pid: readPid(o, 'redis'), ready: r },
    registry: { pid: readPid(o, 'registry'), ready: g },
  };
}

/** Used by fault tests: kill -9 one process of the stack (its data stays). */
export async function kill(o: StackOptions, name: 'kafka' | 'redis' | 'registry'): Promise<void> {
  const pid = readPid(o, name);
  if (pid !== undefined) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
    while (alive(pid)) await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(pidFile(o, name), { force: true });
}

/** Starts one process of the stack again (after `kill`), with the data it had. */
export async function start(o: StackOptions, name: 'kafka' | 'redis' | 'registry', log: Log = () => {}): Promise<void> {
  if (name === 'kafka') await upKafka(o, log);
  else if (name === 'redis') await upRedis(o, log);
  else await upRegistry(o, log);
}

/** Used by fault tests: kill -9 one process of the stack and start it again with the same data. */
export async function restart(o: StackOptions, name: 'kafka' | 'redis' | 'registry', log: Log = () => {}): Promise<void> {
  await kill(o, name);
  await start(o, name, log);
}

export function exportLines(a: StackAddresses): string {
  return Object.entries(a).map(([k, v]) => `export ${k}=${v}`).join('\n');
}
