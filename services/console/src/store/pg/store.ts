// The production event history: PostgreSQL, every table partitioned by day on the event's
// time (retention drops whole partitions; no DEFAULT partition: a partition is created
// before a batch needs it), full text by a tsvector with a GIN index, each batch written
// in one transaction with one INSERT … ON CONFLICT per table from arrays (unnest), so the
// statement count does not grow with the batch. See README.md beside this file.
import pg from 'pg';
import { eventId } from '@hookyard/core';
import type {
  AttemptStat, AuditEntry, DeliveryLatencyStat, IssueChange, IssueChangeRecord, IssueOccurrence, IssueQuery, IssueRow, IssueState, ReceiptFilter, AuditRow, Counts, CountsQuery, DecisionRow, DeliveryDetail, DeliveryState, EventQuery, EventRow, EventSummary, IndexStore, Page,
  RejectionQuery, RejectionRow, StoreStats, Trace, WriteBatch,
} from '../driver.ts';
import { str, optNum, optStr, toAttempt, toAudit, toIssue, toDeadLetter, toDecision, toDelivery, toEvent, toRejection, type Row } from '../rows.ts';
import { bodyColumns, byIssue, foldDeliveryUpdates, globToLike, idBoundary, idTime, LATENCY_BUCKET_SQL, latencyBucketSql, STATE_RANK, type DeliveryUpdate } from '../shared.ts';

const DAY = 86_400_000;
const TABLES = ['events', 'decisions', 'delivery_records', 'deliveries', 'attempts', 'dead_letters', 'rejections', 'receipts', 'sla_misses'] as const;
/** tsvector holds at most 1 MiB: the text indexed per event is cut well below that. */
const FTS_CHARS = 400_000;

/** A receipt filter on a delivery row `d` (constant SQL; the filter values are a closed set). */
const RECEIPT_SQL: Record<ReceiptFilter, string> = {
  applied: "EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination AND r.t = d.t AND r.status = 'applied')",
  failed: "EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination AND r.t = d.t AND r.status = 'failed')",
  none: "(d.state = 'delivered' AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination AND r.t = d.t))",
  sla_missed: "(EXISTS (SELECT 1 FROM sla_misses m WHERE m.event_id = d.event_id AND m.destination = d.destination AND m.t = d.t) AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination AND r.t = d.t))",
};

/** An issue's occurrences after `since`, on the pool or inside a transaction's client. */
async function occurrencesSince(q: pg.Pool | pg.PoolClient, id: string, since: number): Promise<number> {
  return Number((await q.query('SELECT count(*) AS n FROM issue_occurrences WHERE issue_id = $1 AND at > $2', [id, since])).rows[0].n);
}

/** Gives deliveries first seen through an attempt their event's source and receive time. */
const FILL_SOURCES = `UPDATE deliveries d SET source = e.source, received_at = e.received_at FROM events e WHERE d.source = '' AND e.id = d.event_id AND e.t = d.t`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  t timestamptz NOT NULL, id text NOT NULL, source text NOT NULL, received_at bigint NOT NULL,
  method text NOT NULL, path text NOT NULL, query text NOT NULL, headers jsonb NOT NULL,
  body_text text, body_bin bytea, body_is_json boolean NOT NULL, body_size integer NOT NULL, body_stored boolean NOT NULL,
  kafka_topic text NOT NULL, kafka_partition integer NOT NULL, kafka_offset text NOT NULL,
  ordering_key text NOT NULL, event_type text, webhook_id text, replay_id text, fts tsvector NOT NULL,
  PRIMARY KEY (id, t)
) PARTITION BY RANGE (t);
CREATE INDEX IF NOT EXISTS events_id_desc ON events (id DESC);
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
CREATE INDEX IF NOT EXISTS events_source ON events (source, id DESC);
CREATE INDEX IF NOT EXISTS events_type ON events (event_type text_pattern_ops);
CREATE INDEX IF NOT EXISTS events_key ON events (ordering_key);
CREATE INDEX IF NOT EXISTS events_webhook ON events (webhook_id);
CREATE INDEX IF NOT EXISTS events_fts ON events USING gin (fts);
CREATE TABLE IF NOT EXISTS decisions (
  t timestamptz NOT NULL, event_id text NOT NULL, destination text NOT NULL, outcome text NOT NULL, error text, at bigint NOT NULL, replay_id text,
  PRIMARY KEY (event_id, destination, t)
) PARTITION BY RANGE (t);
CREATE TABLE IF NOT EXISTS delivery_records (
  t timestamptz NOT NULL, topic text NOT NULL, partition integer NOT NULL, "offset" text NOT NULL,
  event_id text NOT NULL, destination text NOT NULL, at bigint NOT NULL, replay_id text,
  PRIMARY KEY (topic, partition, "offset", t)
) PARTITION BY RANGE (t);
CREATE INDEX IF NOT EXISTS delivery_records_event ON delivery_records (event_id);
CREATE TABLE IF NOT EXISTS deliveries (
  t timestamptz NOT NULL, event_id text NOT NULL, destination text NOT NULL, source text NOT NULL, received_at bigint NOT NULL,
  state text NOT NULL, state_at bigint NOT NULL, state_rank smallint NOT NULL, attempts integer NOT NULL,
  last_status integer, last_error text, next_attempt_at bigint, replay_id text,
  PRIMARY KEY (event_id, destination, t)
) PARTITION BY RANGE (t);
CREATE INDEX IF NOT EXISTS deliveries_dest_state ON deliveries (destination, state, event_id);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, event_id);
CREATE INDEX IF NOT EXISTS deliveries_sla ON deliveries (destination, state, state_at);
CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (received_at);
CREATE TABLE IF NOT EXISTS attempts (
  t timestamptz NOT NULL, topic text NOT NULL, partition integer NOT NULL, "offset" text NOT NULL,
  event_id text NOT NULL, destination text NOT NULL, attempt integer NOT NULL, at bigint NOT NULL, status integer, outcome text NOT NULL,
  latency_ms double precision NOT NULL, error text, response_snippet text NOT NULL, next_attempt_at bigint,
  PRIMARY KEY (topic, partition, "offset", t)
) PARTITION BY RANGE (t);
CREATE INDEX IF NOT EXISTS attempts_event ON attempts (event_id, destination);
CREATE INDEX IF NOT EXISTS attempts_status ON attempts (status, event_id);
CREATE TABLE IF NOT EXISTS dead_letters (
  t timestamptz NOT NULL, topic text NOT NULL, partition integer NOT NULL, "offset" text NOT NULL,
  event_id text NOT NULL, source text NOT NULL, destination text NOT NULL, received_at bigint NOT NULL, stage text NOT NULL,
  attempts integer NOT NULL, last_status integer, last_error text NOT NULL, dead_at bigint NOT NULL, replay_id text,
  PRIMARY KEY (topic, partition, "offset", t)
) PARTITION BY RANGE (t);
CREATE INDEX IF NOT EXISTS dead_letters_event ON dead_letters (event_id);
CREATE TABLE IF NOT EXISTS rejections (
  t timestamptz NOT NULL, topic text NOT NULL, partition integer NOT NULL, "offset" text NOT NULL,
  source text NOT NULL, received_at bigint NOT NULL, status integer NOT NULL, code text NOT NULL, reason text NOT NULL,
  method text NOT NULL, path text NOT NULL, remote_ip text NOT NULL, headers jsonb NOT NULL, body_size bigint NOT NULL, body_sha256 text,
  PRIMARY KEY (topic, partition, "offset", t)
) PARTITION BY RANGE (t);
CREATE INDEX IF NOT EXISTS rejections_time ON rejections (received_at DESC, topic, partition, "offset");
CREATE INDEX IF NOT EXISTS attempts_at ON attempts (at);
CREATE TABLE IF NOT EXISTS receipts (
  t timestamptz NOT NULL, event_id text NOT NULL, destination text NOT NULL, receipt_id text NOT NULL, status text NOT NULL, detail text, at bigint NOT NULL,
  PRIMARY KEY (event_id, destination, t)
) PARTITION BY RANGE (t);
CREATE INDEX IF NOT EXISTS receipts_destination ON receipts (destination, status, at);
CREATE TABLE IF NOT EXISTS issues (
  id text PRIMARY KEY, kind text NOT NULL, target text NOT NULL, title text NOT NULL, first_seen bigint NOT NULL, last_seen bigint NOT NULL,
  count bigint NOT NULL, sample_event_id text, sample text NOT NULL, state text NOT NULL, state_at bigint NOT NULL, state_by text, reopened integer NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_seen ON issues (last_seen DESC, id DESC);
CREATE TABLE IF NOT EXISTS issue_changes (
  seq bigserial PRIMARY KEY, issue_id text NOT NULL, change text NOT NULL, at bigint NOT NULL, event_id text NOT NULL, published boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS issue_changes_unpublished ON issue_changes (seq) WHERE NOT published;
CREATE INDEX IF NOT EXISTS issue_changes_issue ON issue_changes (issue_id, seq);
CREATE TABLE IF NOT EXISTS issue_occurrences (
  issue_id text NOT NULL, occurrence text NOT NULL, event_id text, at bigint NOT NULL,
  PRIMARY KEY (issue_id, occurrence)
);
CREATE INDEX IF NOT EXISTS issue_occurrences_at ON issue_occurrences (issue_id, at);
CREATE TABLE IF NOT EXISTS sla_misses (
  t timestamptz NOT NULL, event_id text NOT NULL, destination text NOT NULL, at bigint NOT NULL,
  PRIMARY KEY (event_id, destination, t)
) PARTITION BY RANGE (t);
CREATE TABLE IF NOT EXISTS audit (
  seq bigserial PRIMARY KEY, at bigint NOT NULL, "user" text NOT NULL, role text NOT NULL, action text NOT NULL, target text NOT NULL, detail jsonb NOT NULL
);
`;

const ts = (ms: number) => new Date(ms).toISOString();
const dayOf = (ms: number) => Math.floor(ms / DAY) * DAY;
const partName = (table: string, day: number) => `${table}_p${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;

type Column<R> = readonly [name: string, pgType: string, value: (row: R) => unknown];

/** The Kafka coordinates every append-only table keys its rows by. */
const KAFKA_COLUMNS: Column<{ kafka: { topic: string; partition: number; offset: string } }>[] = [
  ['topic', 'text', (r) => r.kafka.topic], ['partition', 'int', (r) => r.kafka.partition], ['"offset"', 'text', (r) => r.kafka.offset],
];

/** One INSERT … SELECT FROM unnest(arrays) for a batch of rows: one array per column, so the statement does not grow with the batch. */
async function insertRows<R>(c: pg.PoolClient, table: string, columns: readonly Column<R>[], rows: readonly R[], conflict = 'ON CONFLICT DO NOTHING'): Promise<void> {
  if (rows.length === 0) return;
  await c.query(`INSERT INTO ${table} (${columns.map(([n]) => n).join(', ')}) SELECT * FROM unnest(${columns.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) ${conflict}`,
    columns.map(([, , value]) => rows.map(value)));
}

export interface PgStoreOptions { url: string; poolSize?: number }

/** `fn` in one transaction on `c`: committed, or rolled back and rethrown. */
async function inTransaction<T>(c: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const out = await fn();
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export class PgStore implements IndexStore {
  private readonly pool: pg.Pool;
  /** Days whose partitions exist (created by this process or found). */
  private readonly days = new Set<number>();
  /** Rows written since the last ANALYZE, and that ANALYZE while it runs (see analyzeSoon). */
  private written = 0;
  private analyzedAt = 0;
  private analyzedRows = 0;
  private analyzing: Promise<void> | null = null;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  static async open(opts: PgStoreOptions): Promise<PgStore> {
    // bigint columns come back as strings by default; every one here fits a JS number.
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 8 });
    pool.on('error', () => { /* an idle client lost: the next query reconnects */ });
    const s = new PgStore(pool);
    const c = await pool.connect();
    try {
      // One schema set-up at a time when several consoles start together.
      await c.query('SELECT pg_advisory_lock(7361001)');
      await c.query(SCHEMA);
      // Columns added after a release (a partitioned parent passes them to its partitions).
      await c.query('ALTER TABLE decisions ADD COLUMN IF NOT EXISTS config_version text');
      await c.query('ALTER TABLE issue_changes ADD COLUMN IF NOT EXISTS sent_at bigint');
      await c.query('ALTER TABLE attempts ADD COLUMN IF NOT EXISTS request_headers jsonb');
      // Deliveries first seen through an attempt, waiting for their event's source (see FILL_SOURCES).
      await c.query(`CREATE INDEX IF NOT EXISTS deliveries_unsourced ON deliveries (event_id) WHERE source = ''`);
      // A console killed between a batch's commit and its fill-in left some.
      await c.query(FILL_SOURCES);
      const parts = await c.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'`);
      for (const r of parts.rows) {
        const m = /_p(\d{4})(\d{2})(\d{2})$/.exec(r.name);
        if (m) s.days.add(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      }
      // A table added since those days' partitions were made gets its partitions for them.
      for (const day of s.days) {
        for (const table of TABLES) await c.query(`CREATE TABLE IF NOT EXISTS ${partName(table, day)} PARTITION OF ${table} FOR VALUES FROM ('${ts(day)}') TO ('${ts(day + DAY)}')`);
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock(7361001)').catch(() => {});
      c.release();
    }
    return s;
  }

  /** One pooled connection for `fn`, released after. */
  private async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  }

  private async ensureDays(c: pg.PoolClient, times: number[]): Promise<void> {
    const missing = [...new Set(times.map(dayOf))].filter((d) => !this.days.has(d));
    for (const day of missing) {
      for (const table of TABLES) {
        await c.query(`CREATE TABLE IF NOT EXISTS ${partName(table, day)} PARTITION OF ${table} FOR VALUES FROM ('${ts(day)}') TO ('${ts(day + DAY)}')`);
      }
      this.days.add(day);
    }
  }

  async write(batch: WriteBatch): Promise<void> {
    const times = [
      ...batch.events.map((e) => idTime(e.id, e.receivedAt)), ...batch.decisions.map((d) => idTime(d.eventId, d.at)),
      ...batch.deliveries.map((d) => idTime(d.eventId, d.receivedAt)), ...batch.attempts.map((a) => idTime(a.eventId, a.at)),
      ...batch.deadLetters.map((d) => idTime(d.eventId, d.deadAt)), ...batch.rejections.map((r) => r.receivedAt),
      ...batch.receipts.map((r) => idTime(r.eventId, r.at)),
    ];
    if (times.length === 0) return;
    await this.withClient(async (c) => {
      // Partitions are created outside the batch's transaction: a concurrent creator's
      // error then does not abort the batch (and is retried once).
      await this.ensureDays(c, times).catch(async () => this.ensureDays(c, times));
      await inTransaction(c, async () => {
        if (batch.events.length > 0) {
          const e = batch.events.map((x) => ({ x, b: bodyColumns(x.body) }));
          await c.query(`INSERT INTO events (t, id, source, received_at, method, path, query, headers, body_text, body_bin, body_is_json, body_size, body_stored,
              kafka_topic, kafka_partition, kafka_offset, ordering_key, event_type, webhook_id, replay_id, fts)
            SELECT u.t, u.id, u.source, u.received_at, u.method, u.path, u.query, u.headers, u.body_text, u.body_bin, u.body_is_json, u.body_size, u.body_stored,
              u.kafka_topic, u.kafka_partition, u.kafka_offset, u.ordering_key, u.event_type, u.webhook_id, u.replay_id,
              to_tsvector('simple', left(coalesce((SELECT string_agg(value, ' ') FROM jsonb_each_text(u.headers)), '') || ' ' || coalesce(u.body_text, ''), ${FTS_CHARS}))
            FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::text[], $10::bytea[], $11::boolean[], $12::int[], $13::boolean[],
              $14::text[], $15::int[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[])
              AS u(t, id, source, received_at, method, path, query, headers, body_text, body_bin, body_is_json, body_size, body_stored, kafka_topic, kafka_partition, kafka_offset, ordering_key, event_type, webhook_id, replay_id)
            ON CONFLICT DO NOTHING`, [
            e.map(({ x }) => ts(idTime(x.id, x.receivedAt))), e.map(({ x }) => x.id), e.map(({ x }) => x.source), e.map(({ x }) => x.receivedAt), e.map(({ x }) => x.method),
            e.map(({ x }) => x.path), e.map(({ x }) => x.query), e.map(({ x }) => JSON.stringify(x.headers)), e.map(({ b }) => b.text), e.map(({ b }) => b.bin),
            e.map(({ b }) => b.isJson), e.map(({ x }) => x.bodySize), e.map(({ x }) => x.body !== null), e.map(({ x }) => x.kafka.topic), e.map(({ x }) => x.kafka.partition),
            e.map(({ x }) => x.kafka.offset), e.map(({ x }) => x.orderingKey), e.map(({ x }) => x.eventType), e.map(({ x }) => x.webhookId), e.map(({ x }) => x.replayId),
          ]);
        }
        if (batch.decisions.length > 0) {
          // One row per (event, destination) in a statement: the newest decision of the batch.
          const latest = new Map<string, DecisionRow>();
          for (const d of batch.decisions) {
            const k = `${d.eventId}\u0000${d.destination}`;
            const cur = latest.get(k);
            if (!cur || d.at >= cur.at) latest.set(k, d);
          }
          const ds = [...latest.values()];
          await insertRows(c, 'decisions', [
            ['t', 'timestamptz', (d) => ts(idTime(d.eventId, d.at))], ['event_id', 'text', (d) => d.eventId], ['destination', 'text', (d) => d.destination],
            ['outcome', 'text', (d) => d.outcome], ['error', 'text', (d) => d.error], ['at', 'bigint', (d) => d.at], ['replay_id', 'text', (d) => d.replayId],
            ['config_version', 'text', (d) => d.configVersion],
          ], ds, 'ON CONFLICT (event_id, destination, t) DO UPDATE SET outcome = EXCLUDED.outcome, error = EXCLUDED.error, at = EXCLUDED.at, replay_id = EXCLUDED.replay_id, config_version = EXCLUDED.config_version WHERE EXCLUDED.at >= decisions.at');
        }
        await insertRows(c, 'delivery_records', [
          ['t', 'timestamptz', (d) => ts(idTime(d.eventId, d.receivedAt))], ...KAFKA_COLUMNS, ['event_id', 'text', (d) => d.eventId],
          ['destination', 'text', (d) => d.destination], ['at', 'bigint', (d) => d.at], ['replay_id', 'text', (d) => d.replayId],
        ], batch.deliveries);
        await insertRows(c, 'attempts', [
          ['t', 'timestamptz', (a) => ts(idTime(a.eventId, a.at))], ...KAFKA_COLUMNS, ['event_id', 'text', (a) => a.eventId], ['destination', 'text', (a) => a.destination],
          ['attempt', 'int', (a) => a.attempt], ['at', 'bigint', (a) => a.at], ['status', 'int', (a) => a.status], ['outcome', 'text', (a) => a.outcome],
          ['latency_ms', 'float8', (a) => a.latencyMs], ['error', 'text', (a) => a.error], ['response_snippet', 'text', (a) => a.responseSnippet], ['next_attempt_at', 'bigint', (a) => a.nextAttemptAt],
          ['request_headers', 'jsonb', (a) => (a.requestHeaders ? JSON.stringify(a.requestHeaders) : null)],
        ], batch.attempts);
        await insertRows(c, 'dead_letters', [
          ['t', 'timestamptz', (d) => ts(idTime(d.eventId, d.deadAt))], ...KAFKA_COLUMNS, ['event_id', 'text', (d) => d.eventId], ['source', 'text', (d) => d.source],
          ['destination', 'text', (d) => d.destination], ['received_at', 'bigint', (d) => d.receivedAt], ['stage', 'text', (d) => d.stage], ['attempts', 'int', (d) => d.attempts],
          ['last_status', 'int', (d) => d.lastStatus], ['last_error', 'text', (d) => d.lastError], ['dead_at', 'bigint', (d) => d.deadAt], ['replay_id', 'text', (d) => d.replayId],
        ], batch.deadLetters);
        await insertRows(c, 'rejections', [
          ['t', 'timestamptz', (r) => ts(r.receivedAt)], ...KAFKA_COLUMNS, ['source', 'text', (r) => r.source], ['received_at', 'bigint', (r) => r.receivedAt],
          ['status', 'int', (r) => r.status], ['code', 'text', (r) => r.code], ['reason', 'text', (r) => r.reason], ['method', 'text', (r) => r.method], ['path', 'text', (r) => r.path],
          ['remote_ip', 'text', (r) => r.remoteIp], ['headers', 'jsonb', (r) => JSON.stringify(r.headers)], ['body_size', 'bigint', (r) => r.bodySize], ['body_sha256', 'text', (r) => r.bodySha256],
        ], batch.rejections);
        await this.upsertDeliveries(c, batch);
        if (batch.receipts.length > 0) {
          // The newest receipt of a delivery is its word (a sender may correct itself).
          const newest = new Map<string, (typeof batch.receipts)[number]>();
          for (const r of batch.receipts) {
            const k = `${r.eventId}\u0000${r.destination}`;
            const o = newest.get(k);
            if (!o || r.at >= o.at) newest.set(k, r);
          }
          const rs = [...newest.values()];
          await c.query(`INSERT INTO receipts AS x (t, event_id, destination, receipt_id, status, detail, at)
            SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
            ON CONFLICT (event_id, destination, t) DO UPDATE SET receipt_id = EXCLUDED.receipt_id, status = EXCLUDED.status, detail = EXCLUDED.detail, at = EXCLUDED.at WHERE EXCLUDED.at >= x.at`, [
            rs.map((r) => ts(idTime(r.eventId, r.at))), rs.map((r) => r.eventId), rs.map((r) => r.destination), rs.map((r) => r.receiptId), rs.map((r) => r.status), rs.map((r) => r.detail), rs.map((r) => r.at),
          ]);
        }
      });
      // Two batches written side by side, one with an event and one with its first attempt,
      // each miss the other's row (neither is committed when the other looks), and the
      // delivery would keep an empty source for good. Whichever commits last sees both here,
      // after its commit (found by the kill test on PostgreSQL: 2,252 of 6,000 under load).
      const ids = [...new Set([...batch.events.map((e) => e.id), ...batch.attempts.map((a) => a.eventId)])];
      if (ids.length > 0) await c.query(`${FILL_SOURCES} AND d.event_id = ANY($1::text[])`, [ids]);
    });
    this.written += batch.events.length;
    this.analyzeSoon();
  }

  /**
   * Autovacuum analyzes each partition but never a partitioned table itself, and a day's
   * new partition has no statistics until autovacuum gets to it: without them the planner
   * sorts or merges whole partitions (a filtered search over 100,000 fresh events: 24 ms p50
   * before ANALYZE, 8.6 ms after). So the store analyzes its parent tables itself, in the
   * background, whenever the events written since the last time reach a fifth of what it
   * had then (at least 5,000), at most every 10 s.
   */
  private analyzeSoon(): void {
    if (this.analyzing || this.written < Math.max(5_000, this.analyzedRows * 0.2) || Date.now() - this.analyzedAt < 10_000) return;
    const rows = this.analyzedRows + this.written;
    this.written = 0;
    this.analyzedAt = Date.now();
    this.analyzing = this.pool.query(`ANALYZE ${TABLES.join(', ')}`).then(
      () => { this.analyzedRows = rows; },
      () => { /* statistics are an optimisation: the next write tries again */ this.written += rows - this.analyzedRows; this.analyzedAt = 0; },
    ).finally(() => { this.analyzing = null; });
  }

  /** Resolves when no background ANALYZE runs (benches and tests). */
  async idle(): Promise<void> {
    await this.analyzing;
  }

  private async upsertDeliveries(c: pg.PoolClient, batch: WriteBatch): Promise<void> {
    const updates: DeliveryUpdate[] = [];
    for (const d of batch.deliveries) updates.push({ eventId: d.eventId, destination: d.destination, source: d.source, receivedAt: d.receivedAt, state: 'pending', stateAt: d.at, attempts: 0, lastStatus: null, lastError: null, nextAttemptAt: null, replayId: d.replayId });
    for (const a of batch.attempts) {
      const state: DeliveryState = a.outcome === 'success' ? 'delivered' : a.outcome === 'dead' ? 'dead' : 'retrying';
      updates.push({ eventId: a.eventId, destination: a.destination, source: '', receivedAt: idTime(a.eventId, a.at), state, stateAt: a.at, attempts: a.attempt, lastStatus: a.status, lastError: a.error, nextAttemptAt: a.outcome === 'retry' ? a.nextAttemptAt : null, replayId: null });
    }
    for (const d of batch.deadLetters) {
      if (d.eventId === '' || d.destination === '') continue;
      updates.push({ eventId: d.eventId, destination: d.destination, source: d.source, receivedAt: d.receivedAt, state: 'dead', stateAt: d.deadAt, attempts: d.attempts, lastStatus: d.lastStatus, lastError: d.lastError, nextAttemptAt: null, replayId: d.replayId });
    }
    if (updates.length > 0) {
      const u = foldDeliveryUpdates(updates);
      const newer = '(EXCLUDED.state_at > d.state_at OR (EXCLUDED.state_at = d.state_at AND EXCLUDED.state_rank >= d.state_rank))';
      await c.query(`INSERT INTO deliveries AS d (t, event_id, destination, source, received_at, state, state_at, state_rank, attempts, last_status, last_error, next_attempt_at, replay_id)
        SELECT u.t, u.event_id, u.destination, coalesce(e.source, u.source), coalesce(e.received_at, u.received_at), u.state, u.state_at, u.state_rank, u.attempts, u.last_status, u.last_error, u.next_attempt_at, u.replay_id
        FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::smallint[], $9::int[], $10::int[], $11::text[], $12::bigint[], $13::text[])
          AS u(t, event_id, destination, source, received_at, state, state_at, state_rank, attempts, last_status, last_error, next_attempt_at, replay_id)
        LEFT JOIN events e ON u.source = '' AND e.id = u.event_id AND e.t = u.t
        ON CONFLICT (event_id, destination, t) DO UPDATE SET
          source = CASE WHEN d.source = '' THEN EXCLUDED.source ELSE d.source END,
          received_at = CASE WHEN d.source = '' AND EXCLUDED.source <> '' THEN EXCLUDED.received_at ELSE d.received_at END,
          attempts = greatest(d.attempts, EXCLUDED.attempts),
          state = CASE WHEN ${newer} THEN EXCLUDED.state ELSE d.state END,
          last_status = CASE WHEN ${newer} THEN coalesce(EXCLUDED.last_status, CASE WHEN EXCLUDED.state = 'pending' THEN d.last_status END) ELSE d.last_status END,
          last_error = CASE WHEN ${newer} THEN coalesce(EXCLUDED.last_error, CASE WHEN EXCLUDED.state = 'pending' THEN d.last_error END) ELSE d.last_error END,
          next_attempt_at = CASE WHEN ${newer} THEN EXCLUDED.next_attempt_at ELSE d.next_attempt_at END,
          replay_id = CASE WHEN ${newer} THEN coalesce(EXCLUDED.replay_id, d.replay_id) ELSE d.replay_id END,
          state_rank = CASE WHEN ${newer} THEN EXCLUDED.state_rank ELSE d.state_rank END,
          state_at = greatest(d.state_at, EXCLUDED.state_at)`, [
        u.map((x) => ts(idTime(x.eventId, x.receivedAt))), u.map((x) => x.eventId), u.map((x) => x.destination), u.map((x) => x.source), u.map((x) => x.receivedAt),
        u.map((x) => x.state), u.map((x) => x.stateAt), u.map((x) => STATE_RANK[x.state]), u.map((x) => x.attempts), u.map((x) => x.lastStatus), u.map((x) => x.lastError),
        u.map((x) => x.nextAttemptAt), u.map((x) => x.replayId),
      ]);
    }
    // Deliveries first seen through an attempt get their source once the event is here.
    if (batch.events.length > 0) {
      await c.query(`UPDATE deliveries d SET source = e.source, received_at = e.received_at FROM events e
        WHERE d.source = '' AND e.id = d.event_id AND e.t = d.t AND e.id = ANY($1::text[])`, [batch.events.map((e) => e.id)]);
    }
  }

  async searchEvents(q: EventQuery): Promise<Page<EventSummary>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
    // The id is a UUIDv7 of the receipt time: an id range lets the newest-first scan walk
    // the id index from the window's end instead of sorting the window.
    // The id is a UUIDv7 of the receipt time: an id range lets the newest-first scan walk
    // the id index from the window's end instead of sorting the window. The same id and
    // partition bounds go into every subquery on a related table: without constants there,
    // PostgreSQL cannot prune that table's partitions and merges all of them (180 ms p95
    // for a filtered query over 1,000,000 events; 7 ms with them).
    const idFrom = q.from !== undefined ? p(idBoundary(q.from)) : undefined;
    const idTo = q.cursor !== undefined ? p(q.to !== undefined && idBoundary(q.to) < q.cursor ? idBoundary(q.to) : q.cursor) : q.to !== undefined ? p(idBoundary(q.to)) : undefined;
    const tFrom = q.from !== undefined ? p(ts(q.from - DAY)) : undefined;
    const tTo = q.to !== undefined ? p(ts(q.to + DAY)) : undefined;
    const bounds = (alias: string, id: string) => [
      ...(idFrom ? [`${alias}.${id} >= ${idFrom}`] : []), ...(idTo ? [`${alias}.${id} < ${idTo}`] : []),
      ...(tFrom ? [`${alias}.t >= ${tFrom}`] : []), ...(tTo ? [`${alias}.t < ${tTo}`] : []),
    ];
    where.push(...bounds('e', 'id'));
    if (q.from !== undefined) where.push(`e.received_at >= ${p(q.from)}`);
    if (q.to !== undefined) where.push(`e.received_at < ${p(q.to)}`);
    if (q.sources && q.sources.length > 0) where.push(`e.source = ANY(${p(q.sources)}::text[])`);
    if (q.eventType !== undefined) where.push(`e.event_type LIKE ${p(globToLike(q.eventType))} ESCAPE '\\'`);
    if (q.orderingKey !== undefined) where.push(`e.ordering_key = ${p(q.orderingKey)}`);
    if (q.eventId !== undefined) where.push(`e.id = ${p(q.eventId)}`);
    if (q.webhookId !== undefined) where.push(`e.webhook_id = ${p(q.webhookId)}`);
    if (q.replayId !== undefined) {
      const r = p(q.replayId);
      where.push(`(e.replay_id = ${r} OR e.id IN (SELECT r.event_id FROM delivery_records r WHERE ${[...bounds('r', 'event_id'), `r.replay_id = ${r}`].join(' AND ')}))`);
    }
    if (q.destinations !== undefined || q.states !== undefined || q.receipts !== undefined) {
      const c = bounds('d', 'event_id');
      if (q.destinations !== undefined) c.push(`d.destination = ANY(${p(q.destinations)}::text[])`);
      if (q.states !== undefined) c.push(`d.state = ANY(${p(q.states)}::text[])`);
      if (q.receipts !== undefined) c.push(`(${q.receipts.map((r) => RECEIPT_SQL[r]).join(' OR ')})`);
      where.push(`e.id IN (SELECT d.event_id FROM deliveries d WHERE ${c.join(' AND ')})`);
    }
    if (q.status !== undefined) {
      const c = [...bounds('a', 'event_id'), `a.status = ${p(q.status)}`];
      if (q.destinations !== undefined) c.push(`a.destination = ANY(${p(q.destinations)}::text[])`);
      where.push(`e.id IN (SELECT a.event_id FROM attempts a WHERE ${c.join(' AND ')})`);
    }
    const words: string[] = [];
    for (const m of q.match) {
      if (m.root === 'body') where.push(`(CASE WHEN e.body_is_json THEN e.body_text::jsonb #>> ${p(m.path)}::text[] END) = ${p(m.value)}`);
      else where.push(`e.headers ->> ${p(m.path[0])} = ${p(m.value)}`);
      words.push(m.value);
    }
    if (q.text !== undefined) words.push(q.text);
    const terms = words.join(' ').split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
    // Each word a phrase of its own tokens (cus_123 → 'cus' <-> '123'), all required.
    for (const w of terms) where.push(`e.fts @@ phraseto_tsquery('simple', ${p(w)})`);
    const sql = `SELECT e.id, e.source, e.received_at, e.event_type, e.ordering_key, e.webhook_id, e.body_size, e.replay_id, e.t FROM events e
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.id DESC LIMIT ${p(q.limit + 1)}`;
    const rows = (await this.pool.query(sql, params)).rows as Row[];
    const page = rows.slice(0, q.limit);
    const deliveries = await this.deliveriesOf(page.map((r) => str(r.id)));
    const items: EventSummary[] = page.map((r) => ({
      id: str(r.id), source: str(r.source), receivedAt: Number(r.received_at), eventType: optStr(r.event_type), orderingKey: str(r.ordering_key),
      webhookId: optStr(r.webhook_id), bodySize: Number(r.body_size), replayId: optStr(r.replay_id),
      deliveries: (deliveries.get(str(r.id)) ?? []).map(({ destination, state, attempts, lastStatus, replayId, receipt }) => ({ destination, state, attempts, lastStatus, replayId, receipt })),
    }));
    return { items, next: rows.length > q.limit ? items[items.length - 1]!.id : null };
  }

  private async deliveriesOf(ids: string[]): Promise<Map<string, DeliveryDetail[]>> {
    const out = new Map<string, DeliveryDetail[]>();
    if (ids.length === 0) return out;
    const { rows } = await this.pool.query(`SELECT d.*, r.status AS receipt_status, r.at AS receipt_at, r.detail AS receipt_detail, m.at AS sla_missed_at FROM deliveries d
      LEFT JOIN receipts r ON r.event_id = d.event_id AND r.destination = d.destination AND r.t = d.t
      LEFT JOIN sla_misses m ON m.event_id = d.event_id AND m.destination = d.destination AND m.t = d.t
      WHERE d.event_id = ANY($1::text[]) ORDER BY d.destination COLLATE "C"`, [ids]);
    for (const r of rows as Row[]) {
      const list = out.get(str(r.event_id)) ?? [];
      list.push(toDelivery(r));
      out.set(str(r.event_id), list);
    }
    return out;
  }

  async trace(eventId: string): Promise<Trace | null> {
    const q = (sql: string) => this.pool.query(sql, [eventId]).then((r) => r.rows as Row[]);
    const [ev, dec, att, dead, deliveries] = await Promise.all([
      q('SELECT * FROM events WHERE id = $1'),
      q('SELECT * FROM decisions WHERE event_id = $1 ORDER BY destination COLLATE "C"'),
      q('SELECT * FROM attempts WHERE event_id = $1 ORDER BY at, attempt'),
      q('SELECT * FROM dead_letters WHERE event_id = $1 ORDER BY dead_at'),
      this.deliveriesOf([eventId]).then((m) => m.get(eventId) ?? []),
    ]);
    const e = ev[0];
    const decisions = dec.map(toDecision);
    const attempts = att.map(toAttempt);
    const deadLetters = dead.map(toDeadLetter);
    if (!e && decisions.length === 0 && attempts.length === 0 && deadLetters.length === 0 && deliveries.length === 0) return null;
    const event: EventRow | null = e ? toEvent(e) : null;
    return { event, decisions, deliveries, attempts, deadLetters };
  }

  async counts(q: CountsQuery): Promise<Counts> {
    const b = q.bucketMs;
    const win = [b, q.from, q.to, ts(q.from - DAY), ts(q.to + DAY)];
    const received = (await this.pool.query(`SELECT (received_at / $1) * $1 AS bucket, source, count(*) AS n FROM events
      WHERE received_at >= $2 AND received_at < $3 AND t >= $4 AND t < $5 GROUP BY 1, 2 ORDER BY bucket, source COLLATE "C"`, win)).rows as Row[];
    const deliveries = (await this.pool.query(`SELECT (received_at / $1) * $1 AS bucket, source, destination, state, count(*) AS n FROM deliveries
      WHERE received_at >= $2 AND received_at < $3 AND t >= $4 AND t < $5 GROUP BY 1, 2, 3, 4 ORDER BY bucket, source COLLATE "C", destination COLLATE "C", state COLLATE "C"`, win)).rows as Row[];
    return {
      received: received.map((r) => ({ bucket: Number(r.bucket), source: str(r.source), count: Number(r.n) })),
      deliveries: deliveries.map((r) => ({ bucket: Number(r.bucket), source: str(r.source), destination: str(r.destination), state: str(r.state) as DeliveryState, count: Number(r.n) })),
    };
  }

  async rejections(q: RejectionQuery): Promise<Page<RejectionRow>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
    if (q.from !== undefined) where.push(`received_at >= ${p(q.from)}`);
    if (q.to !== undefined) where.push(`received_at < ${p(q.to)}`);
    if (q.sources && q.sources.length > 0) where.push(`source = ANY(${p(q.sources)}::text[])`);
    if (q.cursor !== undefined) {
      // The cursor is (received_at, topic, partition, offset) of the page's last row.
      let cur: [number, string, number, string];
      try {
        cur = JSON.parse(Buffer.from(q.cursor, 'base64url').toString()) as typeof cur;
      } catch {
        return { items: [], next: null };
      }
      where.push(`(received_at, topic, partition, "offset") < (${p(Number(cur[0]))}, ${p(String(cur[1]))}, ${p(Number(cur[2]))}, ${p(String(cur[3]))})`);
    }
    const { rows } = await this.pool.query(`SELECT * FROM rejections ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY received_at DESC, topic DESC, partition DESC, "offset" DESC LIMIT ${p(q.limit + 1)}`, params);
    const page = (rows as Row[]).slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toRejection),
      next: rows.length > q.limit && last ? Buffer.from(JSON.stringify([Number(last.received_at), last.topic, Number(last.partition), last.offset])).toString('base64url') : null,
    };
  }

  async prune(before: number): Promise<{ events: number; rejections: number }> {
    let events = 0;
    let rejections = 0;
    await this.withClient(async (c) => {
      // Whole days before the cut: their partitions are dropped.
      for (const day of [...this.days].filter((d) => d + DAY <= before).sort((a, b) => a - b)) {
        events += Number((await c.query(`SELECT count(*) AS n FROM ${partName('events', day)}`)).rows[0].n);
        rejections += Number((await c.query(`SELECT count(*) AS n FROM ${partName('rejections', day)}`)).rows[0].n);
        for (const table of TABLES) await c.query(`DROP TABLE IF EXISTS ${partName(table, day)}`);
        this.days.delete(day);
      }
      // The day the cut falls in: its older rows only.
      const cut = ts(before);
      await inTransaction(c, async () => {
        events += (await c.query('DELETE FROM events WHERE t < $1', [cut])).rowCount ?? 0;
        rejections += (await c.query('DELETE FROM rejections WHERE t < $1', [cut])).rowCount ?? 0;
        for (const table of ['decisions', 'delivery_records', 'deliveries', 'attempts', 'dead_letters', 'receipts', 'sla_misses']) await c.query(`DELETE FROM ${table} WHERE t < $1`, [cut]);
        await c.query('DELETE FROM issue_occurrences WHERE at < $1', [before]);
      });
    });
    return { events, rejections };
  }

  async erase(eventId: string): Promise<boolean> {
    return this.withClient((c) => inTransaction(c, async () => {
      let n = 0;
      for (const table of ['events', 'decisions', 'delivery_records', 'deliveries', 'attempts', 'dead_letters', 'receipts', 'sla_misses']) {
        n += (await c.query(`DELETE FROM ${table} WHERE ${table === 'events' ? 'id' : 'event_id'} = $1`, [eventId])).rowCount ?? 0;
      }
      // Issues keep their counts, not the event.
      await c.query('UPDATE issue_occurrences SET event_id = NULL WHERE event_id = $1', [eventId]);
      await c.query('UPDATE issues SET sample_event_id = NULL WHERE sample_event_id = $1', [eventId]);
      return n > 0;
    }));
  }

  async attemptStats(q: CountsQuery): Promise<AttemptStat[]> {
    // Partitions hold an attempt under its event's day; retries run at most days after it.
    const { rows } = await this.pool.query(`SELECT (at / $1) * $1 AS bucket, destination, outcome = 'success' AS success, ${LATENCY_BUCKET_SQL} AS lb, count(*) AS n
      FROM attempts WHERE at >= $2 AND at < $3 AND t >= $4 AND t < $5 GROUP BY 1, 2, 3, 4 ORDER BY 1, destination COLLATE "C", 3, 4`, [q.bucketMs, q.from, q.to, ts(q.from - 8 * DAY), ts(q.to + DAY)]);
    return (rows as Row[]).map((r) => ({ bucket: Number(r.bucket), destination: str(r.destination), success: r.success === true, latencyBucket: Number(r.lb), count: Number(r.n) }));
  }

  async deliveryLatency(q: CountsQuery): Promise<DeliveryLatencyStat[]> {
    const { rows } = await this.pool.query(`SELECT (a.at / $1) * $1 AS bucket, d.source, a.destination, ${latencyBucketSql('(a.at - d.received_at)')} AS lb, count(*) AS n
      FROM attempts a JOIN deliveries d ON d.event_id = a.event_id AND d.destination = a.destination AND d.t = a.t
      WHERE a.at >= $2 AND a.at < $3 AND a.t >= $4 AND a.t < $5 AND a.outcome = 'success' AND d.source <> ''
      GROUP BY 1, 2, 3, 4 ORDER BY 1, d.source COLLATE "C", a.destination COLLATE "C", 4`, [q.bucketMs, q.from, q.to, ts(q.from - 8 * DAY), ts(q.to + DAY)]);
    return (rows as Row[]).map((r) => ({ bucket: Number(r.bucket), source: str(r.source), destination: str(r.destination), latencyBucket: Number(r.lb), count: Number(r.n) }));
  }

  async markSlaMisses(destination: string, since: number, before: number, now: number): Promise<{ eventId: string; destination: string }[]> {
    // Partitions hold a delivery under its event's day: the window's days, and a day before.
    const { rows } = await this.pool.query(`INSERT INTO sla_misses (t, event_id, destination, at)
      SELECT d.t, d.event_id, d.destination, $1 FROM deliveries d WHERE d.destination = $2 AND d.state = 'delivered' AND d.state_at >= $3 AND d.state_at < $4 AND d.t >= $5 AND d.t < $6
        AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination AND r.t = d.t)
      ON CONFLICT DO NOTHING RETURNING event_id, destination`, [now, destination, since, before, ts(since - 8 * DAY), ts(before + DAY)]);
    return (rows as Row[]).map((r) => ({ eventId: str(r.event_id), destination: str(r.destination) }));
  }

  async recordIssues(occurrences: IssueOccurrence[]): Promise<IssueChange[]> {
    if (occurrences.length === 0) return [];
    const changed: { id: string; change: IssueChange['change'] }[] = [];
    await this.withClient((c) => inTransaction(c, async () => {
      for (const group of byIssue(occurrences)) {
        const first = group[0]!;
        const { rows } = await c.query(`INSERT INTO issue_occurrences (issue_id, occurrence, event_id, at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
          ON CONFLICT DO NOTHING RETURNING occurrence`, [group.map((o) => o.issueId), group.map((o) => o.occurrence), group.map((o) => o.eventId), group.map((o) => o.at)]);
        const inserted = new Set((rows as Row[]).map((r) => str(r.occurrence)));
        const added = group.filter((o) => inserted.has(o.occurrence));
        if (added.length === 0) continue;
        const newest = added.reduce((a, b) => (b.at >= a.at ? b : a));
        // One writer per issue at a time (several consoles): the row, or its absence, is locked.
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [first.issueId]);
        // FOR UPDATE: a resolve committed meanwhile is seen (and reopened), not overwritten.
        const existing = (await c.query('SELECT state FROM issues WHERE id = $1 FOR UPDATE', [first.issueId])).rows[0] as Row | undefined;
        if (!existing) {
          let count = added.length;
          let firstSeen = Math.min(...added.map((o) => o.at));
          if (first.threshold) {
            const n = await occurrencesSince(c, first.issueId, newest.at - first.threshold.windowMs);
            if (n < first.threshold.count) continue;
            const all = (await c.query('SELECT count(*) AS n, min(at) AS f FROM issue_occurrences WHERE issue_id = $1', [first.issueId])).rows[0] as Row;
            count = Number(all.n);
            firstSeen = Number(all.f);
          }
          await c.query(`INSERT INTO issues (id, kind, target, title, first_seen, last_seen, count, sample_event_id, sample, state, state_at, state_by, reopened)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $6, NULL, 0)`, [first.issueId, first.kind, first.target, first.title, firstSeen, newest.at, count, newest.eventId, newest.sample]);
          changed.push({ id: first.issueId, change: 'opened' });
          await c.query('INSERT INTO issue_changes (issue_id, change, at, event_id) VALUES ($1, $2, $3, $4)', [first.issueId, 'opened', newest.at, eventId(Date.now())]);
          continue;
        }
        let reopen = str(existing.state) === 'resolved';
        // A rate issue resolved because its rate fell reopens only once the rate is back above it.
        if (reopen && first.threshold) reopen = (await occurrencesSince(c, first.issueId, newest.at - first.threshold.windowMs)) >= first.threshold.count;
        if (reopen) await c.query('INSERT INTO issue_changes (issue_id, change, at, event_id) VALUES ($1, $2, $3, $4)', [first.issueId, 'reopened', newest.at, eventId(Date.now())]);
        await c.query(`UPDATE issues SET count = count + $1, last_seen = greatest(last_seen, $2), sample_event_id = $3, sample = $4,
          state = CASE WHEN $5 THEN 'open' ELSE state END, state_at = CASE WHEN $5 THEN $2 ELSE state_at END,
          state_by = CASE WHEN $5 THEN NULL ELSE state_by END, reopened = reopened + CASE WHEN $5 THEN 1 ELSE 0 END WHERE id = $6`,
        [added.length, newest.at, newest.eventId, newest.sample, reopen, first.issueId]);
        if (reopen) changed.push({ id: first.issueId, change: 'reopened' });
      }
    }));
    const out: IssueChange[] = [];
    for (const x of changed) {
      const issue = await this.issue(x.id);
      if (issue) out.push({ issue, change: x.change });
    }
    return out;
  }

  async issues(q: IssueQuery): Promise<Page<IssueRow>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
    if (q.states?.length) where.push(`state = ANY(${p(q.states)}::text[])`);
    if (q.kinds?.length) where.push(`kind = ANY(${p(q.kinds)}::text[])`);
    if (q.cursor !== undefined) {
      const m = /^(\d+)\.([0-9a-f]{1,64})$/.exec(q.cursor);
      if (!m) return { items: [], next: null };
      where.push(`(last_seen, id) < (${p(Number(m[1]))}, ${p(m[2])})`);
    }
    const { rows } = await this.pool.query(`SELECT i.*, (SELECT count(DISTINCT event_id) FROM issue_occurrences o WHERE o.issue_id = i.id) AS events FROM issues i
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY last_seen DESC, id DESC LIMIT ${p(q.limit + 1)}`, params);
    const items = (rows as Row[]).slice(0, q.limit).map(toIssue);
    const last = items[items.length - 1];
    return { items, next: rows.length > q.limit && last ? `${last.lastSeen}.${last.id}` : null };
  }

  async issue(id: string): Promise<IssueRow | null> {
    const { rows } = await this.pool.query('SELECT i.*, (SELECT count(DISTINCT event_id) FROM issue_occurrences o WHERE o.issue_id = i.id) AS events FROM issues i WHERE id = $1', [id]);
    return rows[0] ? toIssue(rows[0] as Row) : null;
  }

  async issueEvents(id: string, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query('SELECT event_id, max(at) AS at FROM issue_occurrences WHERE issue_id = $1 AND event_id IS NOT NULL GROUP BY event_id ORDER BY 2 DESC LIMIT $2', [id, limit]);
    return (rows as Row[]).map((r) => str(r.event_id));
  }

  async setIssueState(id: string, state: IssueState, by: string, at: number, only?: { states: IssueState[]; lastSeen?: number }): Promise<IssueRow | null> {
    const changed = await this.withClient((c) => inTransaction(c, async () => {
      const before = (await c.query('SELECT state, last_seen FROM issues WHERE id = $1 FOR UPDATE', [id])).rows[0] as Row | undefined;
      if (only && (!before || !only.states.includes(str(before.state) as IssueState) || (only.lastSeen !== undefined && Number(before.last_seen) !== only.lastSeen))) return false;
      await c.query('UPDATE issues SET state = $1, state_at = $2, state_by = $3 WHERE id = $4', [state, at, by, id]);
      if (before && state === 'resolved' && str(before.state) !== 'resolved') await c.query('INSERT INTO issue_changes (issue_id, change, at, event_id) VALUES ($1, $2, $3, $4)', [id, 'resolved', at, eventId(Date.now())]);
      return true;
    }));
    return changed ? this.issue(id) : null;
  }

  async issueOccurrencesSince(id: string, since: number): Promise<number> {
    return occurrencesSince(this.pool, id, since);
  }

  async workedSince(destination: string, since: number, what: 'delivered' | 'applied'): Promise<boolean> {
    // Partitions hold a delivery under its event's day: one delivered after `since` is of an event at most days older.
    const { rows } = what === 'delivered'
      ? await this.pool.query("SELECT 1 FROM deliveries WHERE destination = $1 AND state = 'delivered' AND state_at > $2 AND t >= $3 LIMIT 1", [destination, since, ts(since - 8 * DAY)])
      : await this.pool.query("SELECT 1 FROM receipts WHERE destination = $1 AND status = 'applied' AND at > $2 AND t >= $3 LIMIT 1", [destination, since, ts(since - 8 * DAY)]);
    return rows.length > 0;
  }

  async unpublishedIssueChanges(limit: number): Promise<IssueChangeRecord[]> {
    const { rows } = await this.pool.query(`SELECT c.*, (SELECT max(p.sent_at) FROM issue_changes p WHERE p.issue_id = c.issue_id AND p.change IN ('opened', 'reopened')) AS last_alert_at
      FROM issue_changes c WHERE NOT c.published ORDER BY c.seq LIMIT $1`, [limit]);
    return (rows as Row[]).map((r) => ({ seq: Number(r.seq), issueId: str(r.issue_id), change: str(r.change) as IssueChangeRecord['change'], at: Number(r.at), eventId: str(r.event_id), lastAlertAt: optNum(r.last_alert_at) }));
  }

  async markIssueChangesPublished(seqs: number[], sentAt: number | null): Promise<void> {
    if (seqs.length > 0) await this.pool.query('UPDATE issue_changes SET published = true, sent_at = $2 WHERE seq = ANY($1::bigint[]) AND NOT published', [seqs, sentAt]);
  }

  async recordAudit(e: AuditEntry): Promise<void> {
    await this.pool.query('INSERT INTO audit (at, "user", role, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)', [e.at, e.user, e.role, e.action, e.target, JSON.stringify(e.detail)]);
  }

  async auditLog(q: { limit: number; cursor?: string }): Promise<Page<AuditRow>> {
    if (q.cursor !== undefined && !/^\d+$/.test(q.cursor)) return { items: [], next: null };
    const { rows } = q.cursor === undefined
      ? await this.pool.query('SELECT * FROM audit ORDER BY seq DESC LIMIT $1', [q.limit + 1])
      : await this.pool.query('SELECT * FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2', [Number(q.cursor), q.limit + 1]);
    const items = (rows as Row[]).slice(0, q.limit).map(toAudit);
    return { items, next: rows.length > q.limit ? String(items[items.length - 1]!.seq) : null };
  }

  async stats(): Promise<StoreStats> {
    const { rows } = await this.pool.query(`SELECT (SELECT count(*) FROM events) AS events,
      (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = ANY($1::text[])) AS bytes`, [TABLES]);
    return { events: Number(rows[0].events), bytes: Number(rows[0].bytes) };
  }

  async close(): Promise<void> {
    await this.analyzing;
    await this.pool.end().catch(() => {});
  }
}
