// Applied config versions: `hookyard config apply` appends one to a compacted topic (the
// text as written, ${VAR} references unresolved, with its hash, time and author); every
// service follows the topic and switches to the newest at a safe point of its own.
//
// A version carries what routing is: sources, destinations, connections, alerts and the
// router's and ingress's limits. What a process needs before it can read the topic (kafka),
// and what is sized at start (deliverer, console, versioning), always comes from the file
// it started with.
import { createHash, randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { CompactedTopicFollower, ensureCompactedTopic } from '../compacted-topic.ts';
import { ConfigError } from '../errors.ts';
import { configTextOf, parseConfig } from './load.ts';
import type { Config, KafkaConfig } from './options.ts';

export const VERSIONED_SECTIONS = ['sources', 'destinations', 'connections', 'alerts', 'router', 'ingress'] as const;
export const FILE_SECTIONS = ['kafka', 'deliverer', 'console', 'versioning'] as const;

export interface ConfigVersion {
  version: number;
  /** sha256 of the text, hex. */
  hash: string;
  appliedAt: number;
  appliedBy: string;
  message: string;
  /** Set by `config rollback`: the version whose text this one re-applies. */
  rollbackOf: number | null;
  /** As applied: secrets stay ${VAR} references, resolved by each service from its environment. */
  text: string;
}

/** What a process runs: the config, and which version it is (null: the file it started with). */
export interface RunningConfig {
  config: Config;
  version: number | null;
  hash: string;
  /** "v7", or "file@<hash>" when no version was applied (recorded with every routed event). */
  label: string;
}

export function configHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function versionLabel(version: number | null, hash: string): string {
  return version === null ? `file@${hash.slice(0, 12)}` : `v${version}`;
}

export function fileRunning(file: Config): RunningConfig {
  const hash = configHash(configTextOf(file) ?? JSON.stringify(file));
  return { config: file, version: null, hash, label: versionLabel(null, hash) };
}

/** A version as this process runs it: routing from the version, infrastructure from its file. */
export function runningVersion(file: Config, v: ConfigVersion, env: NodeJS.ProcessEnv = process.env): RunningConfig {
  const parsed = parseConfig(v.text, env, `config version ${v.version}`);
  const config: Config = { ...parsed, kafka: file.kafka, deliverer: file.deliverer, console: file.console, versioning: file.versioning };
  return { config, version: v.version, hash: v.hash, label: versionLabel(v.version, v.hash) };
}

function decode(message: KafkaMessage): ConfigVersion | null {
  if (!message.value) return null;
  try {
    const v = JSON.parse(message.value.toString()) as ConfigVersion;
    return typeof v.version === 'number' && typeof v.text === 'string' ? v : null;
  } catch {
    return null;
  }
}

export class ConcurrentApply extends Error {}

/** The topic's versions, read and appended (the CLI). */
export class ConfigVersionLog {
  private readonly kafka: Kafka;
  private readonly cfg: KafkaConfig;
  readonly topic: string;

  constructor(kafka: Kafka, cfg: KafkaConfig, topic: string) {
    this.kafka = kafka;
    this.cfg = cfg;
    this.topic = topic;
  }

  /** Every version, oldest first. */
  async list(admin: Admin): Promise<ConfigVersion[]> {
    // Reading creates nothing (config test and history write nothing to Kafka).
    if (!(await admin.listTopics()).includes(this.topic)) return [];
    const found = new Map<number, ConfigVersion>();
    const follower = new CompactedTopicFollower(this.kafka, this.cfg, this.topic, (m) => {
      const v = decode(m);
      if (v) found.set(v.version, v);
    });
    try {
      await follower.start(admin);
    } finally {
      await follower.close();
    }
    return [...found.values()].sort((a, b) => a.version - b.version);
  }

  /**
   * Appends the next version. One transactional id for every applier: a second apply that
   * starts while one is under way fences it (its commit fails, nothing is written), and the
   * versions are read only after this applier holds the id, so two never take one number.
   */
  async append(admin: Admin, entry: { text: string; appliedBy: string; message: string; rollbackOf: number | null }): Promise<ConfigVersion> {
    await ensureCompactedTopic(admin, this.cfg, this.topic);
    const producer = this.kafka.producer({ transactionalId: `${this.cfg.topicPrefix}hookyard-config-apply`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const tx = await producer.transaction();
      try {
        const existing = await this.list(admin);
        const v: ConfigVersion = {
          version: (existing.at(-1)?.version ?? 0) + 1, hash: configHash(entry.text), appliedAt: Date.now(),
          appliedBy: entry.appliedBy, message: entry.message, rollbackOf: entry.rollbackOf, text: entry.text,
        };
        await tx.send({ topic: this.topic, acks: -1, messages: [{ key: String(v.version), value: JSON.stringify(v) }] });
        await tx.commit();
        return v;
      } catch (err) {
        await tx.abort().catch(() => {});
        // kafkajs says it as INVALID_PRODUCER_EPOCH ("an operation with an old epoch") or PRODUCER_FENCED.
        if (/fenced|epoch/i.test(`${(err as { type?: string }).type ?? ''} ${(err as Error).message}`)) {
          throw new ConcurrentApply('another apply ran at the same time and this one was not written; try again');
        }
        throw err;
      }
    } finally {
      await producer.disconnect().catch(() => {});
    }
  }
}

export interface LiveConfigOptions<T> {
  kafka: Kafka;
  /** The config the process started with (its file). */
  file: Config;
  log: Logger;
  /** What the service derives from a config (a route table, verifiers…); throws to refuse a version. */
  build: (running: RunningConfig) => T | Promise<T>;
  env?: NodeJS.ProcessEnv;
  metrics?: Registry;
  topic: string;
}

/**
 * The config a service runs, and what it derived from it, swapped as one reference: a
 * reader that takes `current()` once per unit of work (a transaction, an attempt, a
 * request) never sees two versions in it. A version that does not parse here (an
 * environment variable this process lacks) or that `build` refuses is logged and counted,
 * and the process keeps what it runs.
 */
export class LiveConfig<T> {
  private state: { running: RunningConfig; runtime: T } | undefined;
  private follower: CompactedTopicFollower | undefined;
  private readonly listeners = new Set<(running: RunningConfig, runtime: T) => void>();
  private readonly opts: LiveConfigOptions<T>;
  private readonly rejected: Counter | undefined;
  private newest: number | null = null;

  constructor(opts: LiveConfigOptions<T>) {
    this.opts = opts;
    if (opts.metrics) {
      const self = this;
      new Gauge({
        name: 'hookyard_config_version_info', help: 'The config version this process runs (label; value 1)', labelNames: ['version', 'hash'], registers: [opts.metrics],
        collect() {
          this.reset();
          if (self.state) this.set({ version: self.state.running.label, hash: self.state.running.hash.slice(0, 12) }, 1);
        },
      });
      new Gauge({
        name: 'hookyard_config_version', help: 'The applied config version this process runs (0: its file)', registers: [opts.metrics],
        collect() { this.set(self.state?.running.version ?? 0); },
      });
      this.rejected = new Counter({ name: 'hookyard_config_rejected_total', help: 'Applied config versions this process could not run (kept the one it runs)', registers: [opts.metrics] });
    }
  }

  /** Runs the newest applied version (or the file), then follows the topic; `versioning.follow: false` runs the file only. */
  async start(admin: Admin): Promise<void> {
    const { file, log } = this.opts;
    if (!file.versioning.follow) {
      await this.switchTo(fileRunning(file));
      return;
    }
    let latest: ConfigVersion | undefined;
    let caughtUp = false;
    this.follower = new CompactedTopicFollower(this.opts.kafka, file.kafka, this.opts.topic, async (m) => {
      const v = decode(m);
      if (!v || (this.newest !== null && v.version <= this.newest)) return;
      this.newest = v.version;
      if (!caughtUp) {
        latest = v; // replaying history: only the newest matters
        return;
      }
      await this.tryVersion(v);
    });
    await this.follower.start(admin, log);
    caughtUp = true;
    if (latest) {
      const running = fileRunning(file);
      if (!(await this.tryVersion(latest))) await this.switchTo(running);
      else if (running.hash !== latest.hash) log.warn({ running: `v${latest.version}`, file: running.label }, 'running the newest applied config version; the config file differs (hookyard config apply <file> makes it current; versioning.follow: false runs the file)');
    } else {
      await this.switchTo(fileRunning(file));
    }
  }

  private async tryVersion(v: ConfigVersion): Promise<boolean> {
    try {
      await this.switchTo(runningVersion(this.opts.file, v, this.opts.env));
      this.opts.log.info({ version: `v${v.version}`, by: v.appliedBy }, 'config version applied');
      return true;
    } catch (err) {
      this.rejected?.inc();
      const detail = err instanceof ConfigError ? err.problems : [(err as Error).message];
      this.opts.log.error({ version: `v${v.version}`, problems: detail }, 'config version not applied here; keeping the running one');
      return false;
    }
  }

  private async switchTo(running: RunningConfig): Promise<void> {
    const runtime = await this.opts.build(running);
    this.state = { running, runtime };
    for (const l of this.listeners) l(running, runtime);
  }

  get started(): boolean {
    return this.state !== undefined;
  }

  current(): { running: RunningConfig; runtime: T } {
    if (!this.state) throw new Error('LiveConfig read before start()');
    return this.state;
  }

  /** Called after every switch (the first config at start included). */
  onSwitch(listener: (running: RunningConfig, runtime: T) => void): void {
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    await this.follower?.close();
  }
}

/** A fresh id for an apply's author when nothing better is known. */
export function defaultAuthor(env: NodeJS.ProcessEnv = process.env): string {
  return env.HOOKYARD_APPLIED_BY ?? env.GITHUB_ACTOR ?? env.USER ?? env.LOGNAME ?? `cli-${randomUUID().slice(0, 8)}`;
}
