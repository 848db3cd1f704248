// The hookyard.yaml schema and its defaults: the single source of truth for what a
// config may say. Validation messages are written for operators, one per path.
import { isIP } from 'node:net';
import { z } from 'zod';
import { validateFilter } from '../routing/filter.ts';
import { compileTransform, TransformError } from '../routing/transform.ts';

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, - or _ (max 63)');
const secret = z.string().min(1, 'must not be empty');
const path = z.string().regex(/^(body|headers|query|path)(\.[^.]+)*$/, 'must be a path starting with body, headers, query or path');
const duration = z.union([z.number().int().positive(), z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 500ms, 30s, 10m, 24h, 7d')]);

const ipOrCidr = z.string().refine((e) => {
  const [addr, bits, extra] = e.split('/');
  const v = isIP(addr ?? '');
  if (v === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (v === 4 ? 32 : 128));
}, 'must be an IP address or CIDR range');
const hmacAlgo = z.enum(['sha1', 'sha256', 'sha512']);
const verify = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('stripe'), secret: z.union([secret, z.array(secret).min(1)]), toleranceSeconds: z.number().int().positive().default(300) }),
  z.strictObject({ type: z.literal('github'), secret: z.union([secret, z.array(secret).min(1)]) }),
  z.strictObject({ type: z.literal('shopify'), secret: z.union([secret, z.array(secret).min(1)]) }),
  z.strictObject({ type: z.literal('slack'), secret: z.union([secret, z.array(secret).min(1)]), toleranceSeconds: z.number().int().positive().default(300) }),
  z.strictObject({ type: z.literal('twilio'), authToken: secret }),
  z.strictObject({ type: z.literal('standard-webhooks'), secret: z.union([secret, z.array(secret).min(1)]), toleranceSeconds: z.number().int().positive().default(300) }),
  z.strictObject({
    type: z.literal('hmac'), secret: z.union([secret, z.array(secret).min(1)]), algorithm: hmacAlgo.default('sha256'),
    header: z.string().min(1), encoding: z.enum(['hex', 'base64']).default('hex'), prefix: z.string().default(''),
    signed: z.string().default('{body}'), timestampHeader: z.string().optional(), idHeader: z.string().optional(),
    toleranceSeconds: z.number().int().positive().default(300),
  }),
  z.strictObject({ type: z.literal('basic'), username: secret, password: secret }),
  z.strictObject({ type: z.literal('bearer'), token: secret }),
  z.strictObject({ type: z.literal('api-key'), key: secret, header: z.string().min(1).optional(), query: z.string().min(1).optional() })
    .refine((v) => !(v.header && v.query), { message: 'set header or query, not both', path: ['query'] }),
]);

export const sourceSchema = z.strictObject({
  name,
  verify: verify.default({ type: 'none' }),
  allowedIps: z.array(ipOrCidr).optional(),
  /** The public base URL providers call (scheme://host[:port]); Twilio signs the full URL. */
  publicUrl: z.url().optional(),
  orderingKey: path.optional(),
  dedupKey: path.optional(),
  dedup: z.strictObject({ window: duration.default('24h'), includeFields: z.array(path).optional(), excludeFields: z.array(path).optional() }).optional(),
  eventType: path.optional(),
  allowedEventTypes: z.array(z.string().min(1)).optional(),
  maxBodyBytes: z.number().int().positive().max(10 * 1024 * 1024, 'must be at most 10 MiB').default(1024 * 1024),
});

const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL');

export const DEFAULT_SCHEDULE_MS = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

/** Opens after `consecutiveFailures` in a row, or `failureRate` of at least `minRequests` attempts in a `windowMs`. */
export const breakerSchema = z.strictObject({
  enabled: z.boolean().default(true),
  consecutiveFailures: z.number().int().min(1).default(20),
  failureRate: z.number().gt(0).max(1).default(0.5),
  minRequests: z.number().int().min(1).default(20),
  windowMs: z.number().int().min(1000).default(30_000),
  /** Open this long before a half-open probe. */
  cooldownMs: z.number().int().min(100).default(30_000),
});

export const destinationSchema = z.strictObject({
  name,
  url: httpUrl,
  auth: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('bearer'), token: secret }),
    z.strictObject({ type: z.literal('basic'), username: secret, password: secret }),
    z.strictObject({ type: z.literal('header'), name: z.string().min(1), value: secret }),
  ]).optional(),
  signingSecret: z.union([secret, z.array(secret).min(1)]).optional(),
  timeoutMs: z.number().int().positive().max(300_000).default(10_000),
  retry: z.strictObject({
    maxAttempts: z.number().int().min(1).max(100).optional(),
    schedule: z.union([z.literal('standard'), z.literal('exponential'), z.array(z.number().int().min(0))]).default('standard'),
    initialDelayMs: z.number().int().positive().default(5_000),
    maxDelayMs: z.number().int().positive().default(36_000_000),
  }).default({ schedule: 'standard', initialDelayMs: 5_000, maxDelayMs: 36_000_000 }),
  rateLimit: z.strictObject({ perSecond: z.number().positive().optional(), perMinute: z.number().positive().optional(), maxConcurrency: z.number().int().positive().optional() }).optional(),
  ordering: z.enum(['unordered', 'per-key']).default('unordered'),
  /** Paused from config: nothing is delivered until this is removed (the CLI's pause is separate state). */
  paused: z.boolean().default(false),
  breaker: breakerSchema.default(breakerSchema.parse({})),
  /**
   * Outcome receipts: the receiving application POSTs /receipts/<destination> (Standard
   * Webhooks-signed with this secret) to say it applied or failed a delivery; a delivery
   * with no receipt `slaSeconds` after it was delivered is "applied unknown".
   */
  receipts: z.strictObject({
    secret,
    slaSeconds: z.number().int().min(1).max(7 * 86_400).default(300),
    /** How old a receipt's webhook-timestamp may be (either way). */
    toleranceSeconds: z.number().int().min(1).max(3600).default(300),
  }).optional(),
});

export const connectionSchema = z.strictObject({
  source: name,
  destination: name,
  filter: z.record(z.string(), z.unknown()).optional(),
  transform: z.string().min(1).optional(),
});

export const routerSchema = z.strictObject({
  transformTimeoutMs: z.number().int().positive().max(10_000).default(200),
  transformMaxResultBytes: z.number().int().positive().max(10 * 1024 * 1024).default(1024 * 1024),
  /** One routing-decisions record per event (matched / filtered / transform error per connection), for the event history's trace. */
  recordDecisions: z.boolean().default(true),
});

export const delivererSchema = z.strictObject({
  /** HTTP attempts running at once per partition (an unordered destination's records run side by side). */
  concurrencyPerPartition: z.number().int().min(1).max(1000).default(16),
  /** Records taken from a partition and not yet finished (running, queued behind their key, or waiting for a per-key retry). */
  maxPendingPerPartition: z.number().int().min(1).max(1_000_000).default(2_000),
  /** SIGTERM: how long in-flight attempts may take to finish before they are handed back uncommitted. */
  shutdownTimeoutMs: z.number().int().min(0).max(600_000).default(25_000),
  /** How long a delivered mark suppresses a second delivery of (destination, event id). */
  dedupWindowSeconds: z.number().int().positive().default(7 * 24 * 3600),
});

/**
 * What a broker's acknowledgement means, so what a 202 promises:
 * - fsync: every record is on disk (flush.messages=1) before the broker acknowledges it —
 *   on one broker, it survives a power cut; the default unless minInsyncReplicas ≥ 2;
 * - replicated: on at least minInsyncReplicas brokers (in their memory; the OS writes it
 *   to disk later), as Kafka recommends for a cluster of three with min ISR 2.
 */
export const DURABILITY = ['fsync', 'replicated'] as const;
export type Durability = (typeof DURABILITY)[number];

export const kafkaSchema = z.strictObject({
  topicPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"').default(''),
  partitions: z.number().int().min(1).max(1000).default(6),
  replicationFactor: z.number().int().min(1).max(7).default(1),
  /** min.insync.replicas of the topics hookyard creates (default: 2 from 3 replicas up, else 1). */
  minInsyncReplicas: z.number().int().min(1).max(7).optional(),
  /** Default: replicated when minInsyncReplicas ≥ 2, else fsync. */
  durability: z.enum(DURABILITY).optional(),
  /** replicated with one in-sync copy (replicationFactor 1, or minInsyncReplicas 1): allowed only with this. */
  acceptPowerLossRisk: z.boolean().default(false),
  produceTimeoutMs: z.number().int().positive().default(5_000),
  clientId: z.string().default('hookyard'),
  sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(30_000),
}).superRefine((k, ctx) => {
  if (k.minInsyncReplicas !== undefined && k.minInsyncReplicas > k.replicationFactor) {
    ctx.addIssue({ code: 'custom', path: ['minInsyncReplicas'], message: `must be at most replicationFactor (${k.replicationFactor})` });
  }
  const minIsr = k.minInsyncReplicas ?? defaultMinIsr(k.replicationFactor);
  if (k.durability === 'replicated' && minIsr < 2 && !k.acceptPowerLossRisk) {
    ctx.addIssue({
      code: 'custom', path: ['durability'],
      message: `"replicated" with ${k.replicationFactor === 1 ? 'replicationFactor 1' : 'minInsyncReplicas 1'} acknowledges an event held in one broker's memory: a power cut loses events that were answered 202. Use fsync, or replicationFactor 3 with minInsyncReplicas 2, or set acceptPowerLossRisk: true`,
    });
  }
}).transform((k) => {
  const minInsyncReplicas = k.minInsyncReplicas ?? defaultMinIsr(k.replicationFactor);
  return { ...k, minInsyncReplicas, durability: k.durability ?? (minInsyncReplicas >= 2 ? 'replicated' : 'fsync') as Durability };
});

function defaultMinIsr(replicationFactor: number): number {
  return replicationFactor >= 3 ? 2 : 1;
}

/** What a 202 (an acknowledged write) means under this configuration, in a few words. */
export function durabilityPromise(k: { durability: Durability; replicationFactor: number; minInsyncReplicas: number }): string {
  const brokers = (n: number) => (n === 1 ? '1 broker' : `${n} brokers`);
  if (k.durability === 'fsync') return `accepted = on disk on ${k.minInsyncReplicas === k.replicationFactor ? brokers(k.replicationFactor) : `at least ${brokers(k.minInsyncReplicas)} of ${k.replicationFactor}`} (fsync before each acknowledgement)`;
  if (k.minInsyncReplicas < 2) return `accepted = in the memory of ${brokers(1)} (no fsync; a power cut can lose it: acceptPowerLossRisk)`;
  return `accepted = on ${k.minInsyncReplicas === k.replicationFactor ? brokers(k.replicationFactor) : `at least ${brokers(k.minInsyncReplicas)} of ${k.replicationFactor}`} (replicated; each writes to disk when its OS does)`;
}

export const ingressSchema = z.strictObject({
  /** Peers whose X-Forwarded-For is believed (load balancers), as IPs or CIDR ranges. */
  trustedProxies: z.array(ipOrCidr).default([]),
  /** Refusals recorded in ingress-rejections per source per second (a forgery flood is sampled). */
  rejectionsPerSecond: z.number().positive().default(50),
});

/** The event history (services/console): its store, what it keeps, who may read it. */
export const consoleSchema = z.strictObject({
  /** Bearer tokens for /api/v1 (compared in constant time). None: the API refuses every request. */
  /** An entry whose token is empty (an unset ${VAR:-}) is left out: the API refuses rather than opens. */
  apiTokens: z.array(z.strictObject({ name, token: z.string().refine((t) => t === '' || t.length >= 16, 'must be at least 16 characters') }))
    .default([]).transform((list) => list.filter((t) => t.token !== '')),
  store: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('sqlite'), path: z.string().min(1).default('.hookyard/index.db') }),
    z.strictObject({
      type: z.literal('postgres'),
      url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
      poolSize: z.number().int().min(1).max(100).default(8),
    }),
  ]).default({ type: 'sqlite', path: '.hookyard/index.db' }),
  /** How long the index keeps an event and its story (Kafka keeps the events by its own retention). */
  retention: duration.default('7d'),
  /** Bodies up to this size are stored in the index; a bigger one keeps its Kafka coordinates. */
  maxBodyBytes: z.number().int().min(0).max(10 * 1024 * 1024).default(256 * 1024),
  /** Where the console (API and web pages) listens: loopback unless a deployment says otherwise. */
  host: z.string().min(1).default('127.0.0.1'),
  /**
   * Who may log in to the web console: a password hash (`hookyard password-hash`; scrypt,
   * never the password) and a role — viewer reads, operator also acts. An entry whose hash is
   * empty (an unset ${VAR:-}) is left out.
   */
  users: z.array(z.strictObject({
    name,
    passwordHash: z.string().refine((h) => h === '' || /^\$scrypt\$ln=\d{1,2},r=\d{1,2},p=\d{1,2}\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.test(h), 'must be a hash from `hookyard password-hash` ($scrypt$ln=…), never a password'),
    role: z.enum(['viewer', 'operator']),
  })).default([]).transform((list) => list.filter((u) => u.passwordHash !== '')),
  /**
   * Encrypts the web console's session cookies: 64 hex characters (32 bytes). Unset: a new key
   * at every start (everyone logs in again after a restart; replicas do not share sessions).
   */
  sessionKey: z.string().refine((k) => k === '' || /^[0-9a-fA-F]{64}$/.test(k), 'must be 64 hex characters (openssl rand -hex 32)').default(''),
  /** Behind TLS (directly or at a proxy): session cookies are sent over HTTPS only. */
  secureCookies: z.boolean().default(false),
  /** When failures become issues (console: Issues; API: /api/v1/issues). */
  issues: z.strictObject({
    /** Refusals of one source for one reason become an issue at this many in a minute. */
    refusalsPerMinute: z.number().int().min(1).default(10),
    /** A destination's oldest pending delivery older than this is a backpressure issue. */
    backlogAgeSeconds: z.number().int().min(1).default(300),
    /** A destination's dead letters become an issue at this many in an hour. */
    deadLettersPerHour: z.number().int().min(1).default(10),
    /**
     * A delivery or receipts issue resolves by itself once its destination works again (a
     * delivery succeeded, a receipt said applied) after the issue's last failure and no failure
     * of its kind came for this long.
     */
    recoveryQuietSeconds: z.number().int().min(0).default(120),
  }).default({ refusalsPerMinute: 10, backlogAgeSeconds: 300, deadLettersPerHour: 10, recoveryQuietSeconds: 120 }),
});

/** Where alerts go: channels, and which issue changes reach which (see packages/core/src/alerts.ts). */
export const alertsSchema = z.strictObject({
  channels: z.array(z.discriminatedUnion('type', [
    z.strictObject({ name, type: z.literal('slack'), url: httpUrl }),
    z.strictObject({ name, type: z.literal('teams'), url: httpUrl }),
    z.strictObject({ name, type: z.literal('pagerduty'), routingKey: secret, url: httpUrl.default('https://events.pagerduty.com/v2/enqueue') }),
    z.strictObject({ name, type: z.literal('webhook'), url: httpUrl, secret }),
  ])).default([]),
  /** None: every issue change to every channel. */
  rules: z.array(z.strictObject({
    on: z.array(z.enum(['issue.opened', 'issue.reopened', 'issue.resolved'])).min(1),
    kinds: z.array(z.enum(['delivery', 'transform', 'refusal', 'backpressure', 'receipts', 'dead_letters', 'breaker', 'paused', 'ingress'])).min(1).optional(),
    channels: z.array(name).min(1),
  })).default([]),
  /** The console's address as people reach it, for links in alerts. */
  consoleUrl: z.string().optional(),
  /**
   * Flapping: an issue's reopened alert goes out no sooner than this after its previous opened
   * or reopened alert; until then it waits, and a resolve that comes meanwhile cancels both
   * (neither is sent). 0: every reopen alerts at once.
   */
  reopenIntervalSeconds: z.number().int().min(0).default(300),
});

export const configSchema = z.strictObject({
  kafka: kafkaSchema.default(kafkaSchema.parse({})),
  ingress: ingressSchema.default(ingressSchema.parse({})),
  router: routerSchema.default(routerSchema.parse({})),
  deliverer: delivererSchema.default(delivererSchema.parse({})),
  console: consoleSchema.default(consoleSchema.parse({})),
  sources: z.array(sourceSchema).min(1, 'must list at least one source'),
  destinations: z.array(destinationSchema).default([]),
  connections: z.array(connectionSchema).default([]),
  alerts: alertsSchema.default({ channels: [], rules: [], reopenIntervalSeconds: 300 }),
  /**
   * Applied config versions (`hookyard config apply`): followed by default — once a version
   * is applied, services run the newest one and switch without a restart. false: this
   * process runs its file only (deploy by restart).
   */
  versioning: z.strictObject({ follow: z.boolean().default(true) }).default({ follow: true }),
});

/**
 * Cross-references (unique names, connections pointing at known names). Runs on the raw
 * document, not the parsed one, so these problems are listed even when others exist.
 */
export function crossCheck(raw: unknown): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const doc = (raw ?? {}) as Record<string, unknown>;
  // Alerts: names hookyard adds itself, and rules that name configured channels.
  const sourcesRaw = Array.isArray(doc.sources) ? (doc.sources as { name?: unknown }[]) : [];
  sourcesRaw.forEach((s, i) => { if (s?.name === 'hookyard-alerts') out.push({ path: ['sources', i, 'name'], message: '"hookyard-alerts" is reserved (the alerts\' own source)' }); });
  const destinationsRaw = Array.isArray(doc.destinations) ? (doc.destinations as { name?: unknown }[]) : [];
  destinationsRaw.forEach((d, i) => { if (typeof d?.name === 'string' && d.name.startsWith('alert-')) out.push({ path: ['destinations', i, 'name'], message: 'names starting with "alert-" are reserved (alert channels)' }); });
  const alerts = (doc.alerts ?? {}) as { channels?: { name?: unknown }[]; rules?: { channels?: unknown[] }[] };
  const channelNames = new Set((Array.isArray(alerts.channels) ? alerts.channels : []).map((c) => c?.name));
  (Array.isArray(alerts.rules) ? alerts.rules : []).forEach((r, i) => (Array.isArray(r?.channels) ? r.channels : []).forEach((c, j) => {
    if (!channelNames.has(c)) out.push({ path: ['alerts', 'rules', i, 'channels', j], message: `unknown channel "${String(c)}" (channels: ${[...channelNames].join(', ') || 'none'})` });
  }));
  const names = (key: 'sources' | 'destinations'): Set<unknown> => {
    const seen = new Set<unknown>();
    const list = Array.isArray(doc[key]) ? (doc[key] as { name?: unknown }[]) : [];
    list.forEach((item, i) => {
      const n = item?.name;
      if (n === undefined) return;
      if (seen.has(n)) out.push({ path: [key, i, 'name'], message: `duplicate name "${String(n)}"` });
      seen.add(n);
    });
    return seen;
  };
  const sources = names('sources');
  const destinations = names('destinations');
  const connections = Array.isArray(doc.connections) ? (doc.connections as { source?: unknown; destination?: unknown; filter?: unknown; transform?: unknown }[]) : [];
  connections.forEach((c, i) => {
    if (c?.filter !== undefined) for (const p of validateFilter(c.filter)) out.push({ path: ['connections', i, 'filter', ...p.path], message: p.message });
    if (typeof c?.transform === 'string') {
      try {
        compileTransform(c.transform);
      } catch (err) {
        if (!(err instanceof TransformError)) throw err;
        out.push({ path: ['connections', i, 'transform'], message: err.message });
      }
    }
    if (typeof c?.source === 'string' && !sources.has(c.source)) out.push({ path: ['connections', i, 'source'], message: `unknown source "${c.source}"` });
    if (typeof c?.destination === 'string' && !destinations.has(c.destination)) out.push({ path: ['connections', i, 'destination'], message: `unknown destination "${c.destination}"` });
  });
  return out;
}

export type Config = z.output<typeof configSchema>;
export type SourceConfig = Config['sources'][number];
export type DestinationConfig = Config['destinations'][number];
export type ConnectionConfig = Config['connections'][number];
export type KafkaConfig = Config['kafka'];
export type ConsoleConfig = Config['console'];
