// The embedded event history: one SQLite file through Node's built-in node:sqlite, full
// text by FTS5 (compiled into Node's SQLite). No server to run: what `./hookyard up` and
// most tests use. See README.md beside this file for its layout and limits.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { eventId } from '@hookyard/core';
import type {
  AttemptStat, AuditEntry, DeliveryLatencyStat, IssueChange, IssueChangeRecord, IssueOccurrence, IssueQuery, IssueRow, IssueState, ReceiptFilter, AuditRow, Counts, CountsQuery, DeliveryDetail, DeliveryState, EventQuery, EventRow, EventSummary, IndexStore, Page,
  RejectionQuery, RejectionRow, StoreStats, Trace, WriteBatch,
} from '../driver.ts';
import { str, optNum, optStr, toAttempt, toAudit, toIssue, toDeadLetter, toDecision, toDelivery, toEvent, toRejection, type Row } from '../rows.ts';
import { bodyColumns, byIssue, ftsQuery, ftsText, globToLike, idBoundary, idTime, jsonPathOf, LATENCY_BUCKET_SQL, latencyBucketSql, STATE_RANK } from '../shared.ts';

/** A receipt filter on a delivery row `d` (constant SQL; the filter values are a closed set). */
const RECEIPT_SQL: Record<ReceiptFilter, string> = {
  applied: "EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination AND r.status = 'applied')",
  failed: "EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination AND r.status = 'failed')",
  none: "(d.state = 'delivered' AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination))",
  sla_missed: "(EXISTS (SELECT 1 FROM sla_misses m WHERE m.event_id = d.event_id AND m.destination = d.destination) AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination))",
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  query TEXT NOT NULL,
  headers TEXT NOT NULL,
  body_text TEXT,
  body_bin BLOB,
  body_is_json INTEGER NOT NULL,
  body_size INTEGER NOT NULL,
  body_stored INTEGER NOT NULL,
  kafka_topic TEXT NOT NULL,
  kafka_partition INTEGER NOT NULL,
  kafka_offset TEXT NOT NULL,
  ordering_key TEXT NOT NULL,
  event_type TEXT,
  webhook_id TEXT,
  replay_id TEXT
);
CREATE INDEX IF NOT EXISTS events_received ON events(received_at);
CREATE INDEX IF NOT EXISTS events_source ON events(source, id);
CREATE INDEX IF NOT EXISTS events_type ON events(event_type, id);
CREATE INDEX IF NOT EXISTS events_key ON events(ordering_key, id);
CREATE INDEX IF NOT EXISTS events_webhook ON events(webhook_id);
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(text, content='', contentless_delete=1);
CREATE TABLE IF NOT EXISTS decisions (
  event_id TEXT NOT NULL, destination TEXT NOT NULL, outcome TEXT NOT NULL, error TEXT, at INTEGER NOT NULL, replay_id TEXT,
  PRIMARY KEY (event_id, destination)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS delivery_records (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" TEXT NOT NULL,
  event_id TEXT NOT NULL, destination TEXT NOT NULL, at INTEGER NOT NULL, replay_id TEXT,
  PRIMARY KEY (topic, partition, "offset")
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivery_records_event ON delivery_records(event_id);
CREATE TABLE IF NOT EXISTS deliveries (
  event_id TEXT NOT NULL, destination TEXT NOT NULL, source TEXT NOT NULL, received_at INTEGER NOT NULL,
  state TEXT NOT NULL, state_at INTEGER NOT NULL, state_rank INTEGER NOT NULL,
  attempts INTEGER NOT NULL, last_status INTEGER, last_error TEXT, next_attempt_at INTEGER, replay_id TEXT,
  PRIMARY KEY (event_id, destination)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_dest_state ON deliveries(destination, state, event_id);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state, event_id);
CREATE INDEX IF NOT EXISTS deliveries_sla ON deliveries(destination, state, state_at);
CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries(received_at);
CREATE TABLE IF NOT EXISTS attempts (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" TEXT NOT NULL,
  event_id TEXT NOT NULL, destination TEXT NOT NULL, attempt INTEGER NOT NULL, at INTEGER NOT NULL, status INTEGER, outcome TEXT NOT NULL,
  latency_ms REAL NOT NULL, error TEXT, response_snippet TEXT NOT NULL, next_attempt_at INTEGER,
  PRIMARY KEY (topic, partition, "offset")
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attempts_event ON attempts(event_id, destination);
CREATE INDEX IF NOT EXISTS attempts_status ON attempts(status, event_id);
CREATE TABLE IF NOT EXISTS dead_letters (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" TEXT NOT NULL,
  event_id TEXT NOT NULL, source TEXT NOT NULL, destination TEXT NOT NULL, received_at INTEGER NOT NULL, stage TEXT NOT NULL,
  attempts INTEGER NOT NULL, last_status INTEGER, last_error TEXT NOT NULL, dead_at INTEGER NOT NULL, replay_id TEXT,
  PRIMARY KEY (topic, partition, "offset")
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dead_letters_event ON dead_letters(event_id);
CREATE INDEX IF NOT EXISTS dead_letters_time ON dead_letters(dead_at);
CREATE TABLE IF NOT EXISTS rejections (
  seq INTEGER PRIMARY KEY,
  topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" TEXT NOT NULL,
  source TEXT NOT NULL, received_at INTEGER NOT NULL, status INTEGER NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
  method TEXT NOT NULL, path TEXT NOT NULL, remote_ip TEXT NOT NULL, headers TEXT NOT NULL, body_size INTEGER NOT NULL, body_sha256 TEXT,
  UNIQUE (topic, partition, "offset")
);
CREATE INDEX IF NOT EXISTS rejections_time ON rejections(received_at);
CREATE INDEX IF NOT EXISTS attempts_at ON attempts(at);
CREATE TABLE IF NOT EXISTS receipts (
  event_id TEXT NOT NULL, destination TEXT NOT NULL, receipt_id TEXT NOT NULL, status TEXT NOT NULL, detail TEXT, at INTEGER NOT NULL,
  PRIMARY KEY (event_id, destination)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS receipts_destination ON receipts(destination, status, at);
CREATE TABLE IF NOT EXISTS issues (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, title TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
  count INTEGER NOT NULL, sample_event_id TEXT, sample TEXT NOT NULL, state TEXT NOT NULL, state_at INTEGER NOT NULL, state_by TEXT, reopened INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_seen ON issues(last_seen, id);
CREATE TABLE IF NOT EXISTS issue_changes (
  seq INTEGER PRIMARY KEY, issue_id TEXT NOT NULL, change TEXT NOT NULL, at INTEGER NOT NULL, event_id TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS issue_changes_unpublished ON issue_changes(published, seq);
CREATE INDEX IF NOT EXISTS issue_changes_issue ON issue_changes(issue_id, seq);
CREATE TABLE IF NOT EXISTS issue_occurrences (
  issue_id TEXT NOT NULL, occurrence TEXT NOT NULL, event_id TEXT, at INTEGER NOT NULL,
  PRIMARY KEY (issue_id, occurrence)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS issue_occurrences_at ON issue_occurrences(issue_id, at);
CREATE TABLE IF NOT EXISTS sla_misses (
  event_id TEXT NOT NULL, destination TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (event_id, destination)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL
);
`;

// A delivery's row moves only forward in time: a record indexed late (another topic, a
// re-read after a crash) never overwrites a newer state. Equal times: the later stage wins.
const UPSERT_DELIVERY = `
INSERT INTO deliveries (event_id, destination, source, received_at, state, state_at, state_rank, attempts, last_status, last_error, next_attempt_at, replay_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (event_id, destination) DO UPDATE SET
  source = CASE WHEN source = '' THEN excluded.source ELSE source END,
  received_at = CASE WHEN source = '' AND excluded.source <> '' THEN excluded.received_at ELSE received_at END,
  attempts = max(attempts, excluded.attempts),
  state = CASE WHEN excluded.state_at > state_at OR (excluded.state_at = state_at AND excluded.state_rank >= state_rank) THEN excluded.state ELSE state END,
  last_status = CASE WHEN excluded.state_at > state_at OR (excluded.state_at = state_at AND excluded.state_rank >= state_rank) THEN coalesce(excluded.last_status, CASE WHEN excluded.state = 'pending' THEN last_status END) ELSE last_status END,
  last_error = CASE WHEN excluded.state_at > state_at OR (excluded.state_at = state_at AND excluded.state_rank >= state_rank) THEN coalesce(excluded.last_error, CASE WHEN excluded.state = 'pending' THEN last_error END) ELSE last_error END,
  next_attempt_at = CASE WHEN excluded.state_at > state_at OR (excluded.state_at = state_at AND excluded.state_rank >= state_rank) THEN excluded.next_attempt_at ELSE next_attempt_at END,
  replay_id = CASE WHEN excluded.state_at > state_at OR (excluded.state_at = state_at AND excluded.state_rank >= state_rank) THEN coalesce(excluded.replay_id, replay_id) ELSE replay_id END,
  state_rank = CASE WHEN excluded.state_at > state_at OR (excluded.state_at = state_at AND excluded.state_rank >= state_rank) THEN excluded.state_rank ELSE state_rank END,
  state_at = max(state_at, excluded.state_at)`;


export interface SqliteStoreOptions { path: string }

export class SqliteStore implements IndexStore {
  private readonly db: DatabaseSync;
  private readonly stmts = new Map<string, StatementSync>();

  constructor(opts: SqliteStoreOptions) {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    this.db = new DatabaseSync(opts.path);
    // WAL: readers (the API) never wait for the indexer's writes. synchronous=FULL: a
    // committed batch survives a power cut, so the indexer may commit its Kafka offsets
    // after it (NORMAL could lose the last batches after offsets moved past them: a gap).
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = OFF;');
    this.db.exec(SCHEMA);
    // Columns added after a release: an index file from before gets them here.
    const has = (table: string, column: string) => (this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);
    if (!has('decisions', 'config_version')) this.db.exec('ALTER TABLE decisions ADD COLUMN config_version TEXT');
    if (!has('issue_changes', 'sent_at')) this.db.exec('ALTER TABLE issue_changes ADD COLUMN sent_at INTEGER');
    if (!has('attempts', 'request_headers')) this.db.exec('ALTER TABLE attempts ADD COLUMN request_headers TEXT');
  }

  private stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  async write(batch: WriteBatch): Promise<void> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const insertEvent = this.stmt(`INSERT OR IGNORE INTO events (id, source, received_at, method, path, query, headers, body_text, body_bin, body_is_json, body_size, body_stored,
        kafka_topic, kafka_partition, kafka_offset, ordering_key, event_type, webhook_id, replay_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      const insertFts = this.stmt('INSERT INTO events_fts (rowid, text) VALUES (?, ?)');
      for (const e of batch.events) {
        const b = bodyColumns(e.body);
        const r = insertEvent.run(e.id, e.source, e.receivedAt, e.method, e.path, e.query, JSON.stringify(e.headers), b.text, b.bin, b.isJson ? 1 : 0, e.bodySize, e.body === null ? 0 : 1,
          e.kafka.topic, e.kafka.partition, e.kafka.offset, e.orderingKey, e.eventType, e.webhookId, e.replayId);
        if (r.changes === 1) {
          insertFts.run(r.lastInsertRowid, ftsText(e.headers, b.text));
          // Deliveries first seen through an attempt (another topic, indexed first).
          this.stmt("UPDATE deliveries SET source = ?, received_at = ? WHERE event_id = ? AND source = ''").run(e.source, e.receivedAt, e.id);
        }
      }
      const insertDecision = this.stmt(`INSERT INTO decisions (event_id, destination, outcome, error, at, replay_id, config_version) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (event_id, destination) DO UPDATE SET outcome = excluded.outcome, error = excluded.error, at = excluded.at, replay_id = excluded.replay_id, config_version = excluded.config_version WHERE excluded.at >= at`);
      for (const d of batch.decisions) insertDecision.run(d.eventId, d.destination, d.outcome, d.error, d.at, d.replayId, d.configVersion);
      const insertRecord = this.stmt('INSERT OR IGNORE INTO delivery_records (topic, partition, "offset", event_id, destination, at, replay_id) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const upsert = this.stmt(UPSERT_DELIVERY);
      for (const d of batch.deliveries) {
        insertRecord.run(d.kafka.topic, d.kafka.partition, d.kafka.offset, d.eventId, d.destination, d.at, d.replayId);
        upsert.run(d.eventId, d.destination, d.source, d.receivedAt, 'pending', d.at, STATE_RANK.pending, 0, null, null, null, d.replayId);
      }
      const insertAttempt = this.stmt(`INSERT OR IGNORE INTO attempts (topic, partition, "offset", event_id, destination, attempt, at, status, outcome, latency_ms, error, response_snippet, next_attempt_at, request_headers)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const a of batch.attempts) {
        insertAttempt.run(a.kafka.topic, a.kafka.partition, a.kafka.offset, a.eventId, a.destination, a.attempt, a.at, a.status, a.outcome, a.latencyMs, a.error, a.responseSnippet, a.nextAttemptAt,
          a.requestHeaders ? JSON.stringify(a.requestHeaders) : null);
        const state: DeliveryState = a.outcome === 'success' ? 'delivered' : a.outcome === 'dead' ? 'dead' : 'retrying';
        // The attempt record has no source or receipt time: the event's row gives them, or
        // (not indexed yet) the id's own time stands in until it or a delivery record comes.
        const ev = this.stmt('SELECT source, received_at FROM events WHERE id = ?').get(a.eventId) as Row | undefined;
        upsert.run(a.eventId, a.destination, ev ? str(ev.source) : '', ev ? Number(ev.received_at) : idTime(a.eventId, a.at), state, a.at, STATE_RANK[state], a.attempt, a.status, a.error, a.outcome === 'retry' ? a.nextAttemptAt : null, null);
      }
      const insertDead = this.stmt(`INSERT OR IGNORE INTO dead_letters (topic, partition, "offset", event_id, source, destination, received_at, stage, attempts, last_status, last_error, dead_at, replay_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      // The newest receipt of a delivery is its word (a sender may correct itself).
      const upsertReceipt = this.stmt(`INSERT INTO receipts (event_id, destination, receipt_id, status, detail, at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (event_id, destination) DO UPDATE SET receipt_id = excluded.receipt_id, status = excluded.status, detail = excluded.detail, at = excluded.at WHERE excluded.at >= at`);
      for (const r of batch.receipts) upsertReceipt.run(r.eventId, r.destination, r.receiptId, r.status, r.detail, r.at);
      for (const d of batch.deadLetters) {
        insertDead.run(d.kafka.topic, d.kafka.partition, d.kafka.offset, d.eventId, d.source, d.destination, d.receivedAt, d.stage, d.attempts, d.lastStatus, d.lastError, d.deadAt, d.replayId);
        if (d.eventId !== '' && d.destination !== '') upsert.run(d.eventId, d.destination, d.source, d.receivedAt, 'dead', d.deadAt, STATE_RANK.dead, d.attempts, d.lastStatus, d.lastError, null, d.replayId);
      }
      const insertRejection = this.stmt(`INSERT OR IGNORE INTO rejections (topic, partition, "offset", source, received_at, status, code, reason, method, path, remote_ip, headers, body_size, body_sha256)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const r of batch.rejections) {
        insertRejection.run(r.kafka.topic, r.kafka.partition, r.kafka.offset, r.source, r.receivedAt, r.status, r.code, r.reason, r.method, r.path, r.remoteIp, JSON.stringify(r.headers), r.bodySize, r.bodySha256);
      }
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async searchEvents(q: EventQuery): Promise<Page<EventSummary>> {
    const where: string[] = [];
    const params: (string | number | null)[] = [];
    // An event id is a UUIDv7 of its receipt time: the same window as an id range lets the
    // newest-first scan walk the id index from the window's end instead of sorting it.
    if (q.from !== undefined) { where.push('e.received_at >= ? AND e.id >= ?'); params.push(q.from, idBoundary(q.from)); }
    if (q.to !== undefined) { where.push('e.received_at < ? AND e.id < ?'); params.push(q.to, idBoundary(q.to)); }
    if (q.sources && q.sources.length > 0) { where.push(`e.source IN (${q.sources.map(() => '?').join(', ')})`); params.push(...q.sources); }
    if (q.cursor !== undefined) { where.push('e.id < ?'); params.push(q.cursor); }
    if (q.eventType !== undefined) { where.push("e.event_type LIKE ? ESCAPE '\\'"); params.push(globToLike(q.eventType)); }
    if (q.orderingKey !== undefined) { where.push('e.ordering_key = ?'); params.push(q.orderingKey); }
    if (q.eventId !== undefined) { where.push('e.id = ?'); params.push(q.eventId); }
    if (q.webhookId !== undefined) { where.push('e.webhook_id = ?'); params.push(q.webhookId); }
    if (q.replayId !== undefined) {
      where.push('(e.replay_id = ? OR EXISTS (SELECT 1 FROM delivery_records r WHERE r.event_id = e.id AND r.replay_id = ?))');
      params.push(q.replayId, q.replayId);
    }
    const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
    if (q.destinations !== undefined || q.states !== undefined || q.receipts !== undefined) {
      const c = ['d.event_id = e.id'];
      if (q.destinations !== undefined) { c.push(`d.destination IN (${marks(q.destinations.length)})`); params.push(...q.destinations); }
      if (q.states !== undefined) { c.push(`d.state IN (${marks(q.states.length)})`); params.push(...q.states); }
      if (q.receipts !== undefined) c.push(`(${q.receipts.map((r) => RECEIPT_SQL[r]).join(' OR ')})`);
      where.push(`EXISTS (SELECT 1 FROM deliveries d WHERE ${c.join(' AND ')})`);
    }
    if (q.status !== undefined) {
      const c = ['a.event_id = e.id', 'a.status = ?'];
      params.push(q.status);
      if (q.destinations !== undefined) { c.push(`a.destination IN (${marks(q.destinations.length)})`); params.push(...q.destinations); }
      where.push(`EXISTS (SELECT 1 FROM attempts a WHERE ${c.join(' AND ')})`);
    }
    const words: string[] = [];
    for (const m of q.match) {
      const path = jsonPathOf(m.path);
      if (m.root === 'body') {
        // The type test keeps a string "42" from matching a number 42 the other way round
        // only through its text: both compare as their JSON text without quotes.
        where.push(`(CASE WHEN e.body_is_json = 1 THEN (CASE json_type(e.body_text, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' ELSE CAST(json_extract(e.body_text, ?) AS TEXT) END) END) = ?`);
        params.push(path, path, m.value);
      } else {
        where.push('json_extract(e.headers, ?) = ?');
        params.push(path, m.value);
      }
      // Equality on a value implies its words are in the text: the full-text index narrows
      // the rows first instead of reading every body.
      words.push(m.value);
    }
    if (q.text !== undefined) words.push(q.text);
    const fts = ftsQuery(words.join(' '));
    if (fts !== null) { where.push('e.seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)'); params.push(fts); }
    const sql = `SELECT e.id, e.source, e.received_at, e.event_type, e.ordering_key, e.webhook_id, e.body_size, e.replay_id FROM events e
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit + 1) as Row[];
    const more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    const deliveries = this.deliveriesOf(page.map((r) => str(r.id)));
    const items: EventSummary[] = page.map((r) => ({
      id: str(r.id), source: str(r.source), receivedAt: Number(r.received_at), eventType: optStr(r.event_type), orderingKey: str(r.ordering_key),
      webhookId: optStr(r.webhook_id), bodySize: Number(r.body_size), replayId: optStr(r.replay_id),
      deliveries: (deliveries.get(str(r.id)) ?? []).map(({ destination, state, attempts, lastStatus, replayId, receipt }) => ({ destination, state, attempts, lastStatus, replayId, receipt })),
    }));
    return { items, next: more ? items[items.length - 1]!.id : null };
  }

  private deliveriesOf(ids: string[]): Map<string, DeliveryDetail[]> {
    const out = new Map<string, DeliveryDetail[]>();
    if (ids.length === 0) return out;
    const rows = this.db.prepare(`SELECT d.*, r.status AS receipt_status, r.at AS receipt_at, r.detail AS receipt_detail, m.at AS sla_missed_at FROM deliveries d
      LEFT JOIN receipts r ON r.event_id = d.event_id AND r.destination = d.destination LEFT JOIN sla_misses m ON m.event_id = d.event_id AND m.destination = d.destination
      WHERE d.event_id IN (${ids.map(() => '?').join(', ')}) ORDER BY d.destination`).all(...ids) as Row[];
    for (const r of rows) {
      const list = out.get(str(r.event_id)) ?? [];
      list.push(toDelivery(r));
      out.set(str(r.event_id), list);
    }
    return out;
  }

  async trace(eventId: string): Promise<Trace | null> {
    const e = this.stmt('SELECT * FROM events WHERE id = ?').get(eventId) as Row | undefined;
    const decisions = (this.stmt('SELECT * FROM decisions WHERE event_id = ? ORDER BY destination').all(eventId) as Row[]).map(toDecision);
    const attempts = (this.stmt('SELECT * FROM attempts WHERE event_id = ? ORDER BY at, attempt').all(eventId) as Row[]).map(toAttempt);
    const deadLetters = (this.stmt('SELECT * FROM dead_letters WHERE event_id = ? ORDER BY dead_at').all(eventId) as Row[]).map(toDeadLetter);
    const deliveries = this.deliveriesOf([eventId]).get(eventId) ?? [];
    if (!e && decisions.length === 0 && attempts.length === 0 && deadLetters.length === 0 && deliveries.length === 0) return null;
    const event: EventRow | null = e ? toEvent(e) : null;
    return { event, decisions, deliveries, attempts, deadLetters };
  }

  async counts(q: CountsQuery): Promise<Counts> {
    const received = (this.stmt('SELECT (received_at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, source, count(*) AS n FROM events WHERE received_at >= ? AND received_at < ? GROUP BY 1, 2 ORDER BY 1, 2')
      .all(q.bucketMs, q.bucketMs, q.from, q.to) as Row[]).map((r) => ({ bucket: Number(r.bucket), source: str(r.source), count: Number(r.n) }));
    const deliveries = (this.stmt(`SELECT (received_at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, source, destination, state, count(*) AS n FROM deliveries WHERE received_at >= ? AND received_at < ?
      GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`).all(q.bucketMs, q.bucketMs, q.from, q.to) as Row[])
      .map((r) => ({ bucket: Number(r.bucket), source: str(r.source), destination: str(r.destination), state: str(r.state) as DeliveryState, count: Number(r.n) }));
    return { received, deliveries };
  }

  async rejections(q: RejectionQuery): Promise<Page<RejectionRow>> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.from !== undefined) { where.push('received_at >= ?'); params.push(q.from); }
    if (q.to !== undefined) { where.push('received_at < ?'); params.push(q.to); }
    if (q.sources && q.sources.length > 0) { where.push(`source IN (${q.sources.map(() => '?').join(', ')})`); params.push(...q.sources); }
    if (q.cursor !== undefined) {
      if (!/^\d+$/.test(q.cursor)) return { items: [], next: null };
      where.push('seq < ?');
      params.push(Number(q.cursor));
    }
    const rows = this.db.prepare(`SELECT * FROM rejections ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`).all(...params, q.limit + 1) as Row[];
    const page = rows.slice(0, q.limit);
    return {
      items: page.map(toRejection),
      next: rows.length > q.limit ? String(page[page.length - 1]!.seq) : null,
    };
  }

  async prune(before: number): Promise<{ events: number; rejections: number }> {
    const boundary = idBoundary(before);
    let events = 0;
    // In slices, so the API's readers and the indexer are not held up by one long delete.
    for (;;) {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const seqs = (this.stmt('SELECT seq, id FROM events WHERE received_at < ? LIMIT 5000').all(before) as Row[]);
        for (const r of seqs) this.stmt('DELETE FROM events_fts WHERE rowid = ?').run(Number(r.seq));
        if (seqs.length > 0) this.stmt('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE received_at < ? LIMIT 5000)').run(before);
        events += seqs.length;
        this.db.exec('COMMIT');
        if (seqs.length < 5000) break;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    }
    this.db.exec('BEGIN IMMEDIATE');
    let rejections = 0;
    try {
      for (const t of ['decisions', 'delivery_records', 'deliveries', 'attempts', 'receipts', 'sla_misses']) this.db.prepare(`DELETE FROM ${t} WHERE event_id < ?`).run(boundary);
      this.stmt('DELETE FROM issue_occurrences WHERE at < ?').run(before);
      this.stmt('DELETE FROM dead_letters WHERE dead_at < ?').run(before);
      rejections = Number(this.stmt('DELETE FROM rejections WHERE received_at < ?').run(before).changes);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    return { events, rejections };
  }

  async erase(eventId: string): Promise<boolean> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const e = this.stmt('SELECT seq FROM events WHERE id = ?').get(eventId) as Row | undefined;
      if (e) {
        this.stmt('DELETE FROM events_fts WHERE rowid = ?').run(Number(e.seq));
        this.stmt('DELETE FROM events WHERE seq = ?').run(Number(e.seq));
      }
      let other = 0;
      for (const t of ['decisions', 'delivery_records', 'deliveries', 'attempts', 'dead_letters', 'receipts', 'sla_misses']) other += Number(this.db.prepare(`DELETE FROM ${t} WHERE event_id = ?`).run(eventId).changes);
      // Issues keep their counts, not the event.
      this.stmt('UPDATE issue_occurrences SET event_id = NULL WHERE event_id = ?').run(eventId);
      this.stmt('UPDATE issues SET sample_event_id = NULL WHERE sample_event_id = ?').run(eventId);
      this.db.exec('COMMIT');
      return e !== undefined || other > 0;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async attemptStats(q: CountsQuery): Promise<AttemptStat[]> {
    return (this.stmt(`SELECT (at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, destination, outcome = 'success' AS success, ${LATENCY_BUCKET_SQL} AS lb, count(*) AS n
      FROM attempts WHERE at >= ? AND at < ? GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`).all(q.bucketMs, q.bucketMs, q.from, q.to) as Row[])
      .map((r) => ({ bucket: Number(r.bucket), destination: str(r.destination), success: Number(r.success) === 1, latencyBucket: Number(r.lb), count: Number(r.n) }));
  }

  async deliveryLatency(q: CountsQuery): Promise<DeliveryLatencyStat[]> {
    return (this.stmt(`SELECT (a.at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, d.source, a.destination, ${latencyBucketSql('(a.at - d.received_at)')} AS lb, count(*) AS n
      FROM attempts a JOIN deliveries d ON d.event_id = a.event_id AND d.destination = a.destination
      WHERE a.at >= ? AND a.at < ? AND a.outcome = 'success' AND d.source <> '' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`).all(q.bucketMs, q.bucketMs, q.from, q.to) as Row[])
      .map((r) => ({ bucket: Number(r.bucket), source: str(r.source), destination: str(r.destination), latencyBucket: Number(r.lb), count: Number(r.n) }));
  }

  async markSlaMisses(destination: string, since: number, before: number, now: number): Promise<{ eventId: string; destination: string }[]> {
    const rows = this.stmt(`INSERT INTO sla_misses (event_id, destination, at)
      SELECT d.event_id, d.destination, ? FROM deliveries d WHERE d.destination = ? AND d.state = 'delivered' AND d.state_at >= ? AND d.state_at < ?
        AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.event_id = d.event_id AND r.destination = d.destination)
      ON CONFLICT DO NOTHING RETURNING event_id, destination`).all(now, destination, since, before) as Row[];
    return rows.map((r) => ({ eventId: str(r.event_id), destination: str(r.destination) }));
  }

  async recordIssues(occurrences: IssueOccurrence[]): Promise<IssueChange[]> {
    if (occurrences.length === 0) return [];
    const changed: { id: string; change: IssueChange['change'] }[] = [];
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const insert = this.stmt('INSERT OR IGNORE INTO issue_occurrences (issue_id, occurrence, event_id, at) VALUES (?, ?, ?, ?)');
      for (const group of byIssue(occurrences)) {
        const added = group.filter((o) => insert.run(o.issueId, o.occurrence, o.eventId, o.at).changes === 1);
        if (added.length === 0) continue;
        const newest = added.reduce((a, b) => (b.at >= a.at ? b : a));
        const first = added[0]!;
        const existing = this.stmt('SELECT state FROM issues WHERE id = ?').get(first.issueId) as Row | undefined;
        if (!existing) {
          let count = added.length;
          let firstSeen = Math.min(...added.map((o) => o.at));
          if (first.threshold) {
            const n = this.occurrencesSince(first.issueId, newest.at - first.threshold.windowMs);
            if (n < first.threshold.count) continue;
            const all = this.stmt('SELECT count(*) AS n, min(at) AS f FROM issue_occurrences WHERE issue_id = ?').get(first.issueId) as Row;
            count = Number(all.n);
            firstSeen = Number(all.f);
          }
          this.stmt(`INSERT INTO issues (id, kind, target, title, first_seen, last_seen, count, sample_event_id, sample, state, state_at, state_by, reopened)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, NULL, 0)`).run(first.issueId, first.kind, first.target, first.title, firstSeen, newest.at, count, newest.eventId, newest.sample, newest.at);
          changed.push({ id: first.issueId, change: 'opened' });
          this.stmt('INSERT INTO issue_changes (issue_id, change, at, event_id) VALUES (?, ?, ?, ?)').run(first.issueId, 'opened', newest.at, eventId(Date.now()));
          continue;
        }
        let reopen = str(existing.state) === 'resolved';
        // A rate issue resolved because its rate fell reopens only once the rate is back above it.
        if (reopen && first.threshold) reopen = this.occurrencesSince(first.issueId, newest.at - first.threshold.windowMs) >= first.threshold.count;
        if (reopen) this.stmt('INSERT INTO issue_changes (issue_id, change, at, event_id) VALUES (?, ?, ?, ?)').run(first.issueId, 'reopened', newest.at, eventId(Date.now()));
        this.stmt(`UPDATE issues SET count = count + ?, last_seen = max(last_seen, ?), sample_event_id = ?, sample = ?,
          state = CASE WHEN ? THEN 'open' ELSE state END, state_at = CASE WHEN ? THEN ? ELSE state_at END,
          state_by = CASE WHEN ? THEN NULL ELSE state_by END, reopened = reopened + ? WHERE id = ?`)
          .run(added.length, newest.at, newest.eventId, newest.sample, reopen ? 1 : 0, reopen ? 1 : 0, newest.at, reopen ? 1 : 0, reopen ? 1 : 0, first.issueId);
        if (reopen) changed.push({ id: first.issueId, change: 'reopened' });
      }
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    const out: IssueChange[] = [];
    for (const c of changed) {
      const issue = await this.issue(c.id);
      if (issue) out.push({ issue, change: c.change });
    }
    return out;
  }

  async issues(q: IssueQuery): Promise<Page<IssueRow>> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.states?.length) { where.push(`state IN (${q.states.map(() => '?').join(', ')})`); params.push(...q.states); }
    if (q.kinds?.length) { where.push(`kind IN (${q.kinds.map(() => '?').join(', ')})`); params.push(...q.kinds); }
    if (q.cursor !== undefined) {
      const m = /^(\d+)\.([0-9a-f]{1,64})$/.exec(q.cursor);
      if (!m) return { items: [], next: null };
      where.push('(last_seen, id) < (?, ?)');
      params.push(Number(m[1]), m[2]!);
    }
    const rows = this.db.prepare(`SELECT i.*, (SELECT count(DISTINCT event_id) FROM issue_occurrences o WHERE o.issue_id = i.id) AS events FROM issues i
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY last_seen DESC, id DESC LIMIT ?`).all(...params, q.limit + 1) as Row[];
    const items = rows.slice(0, q.limit).map(toIssue);
    const last = items[items.length - 1];
    return { items, next: rows.length > q.limit && last ? `${last.lastSeen}.${last.id}` : null };
  }

  async issue(id: string): Promise<IssueRow | null> {
    const r = this.stmt('SELECT i.*, (SELECT count(DISTINCT event_id) FROM issue_occurrences o WHERE o.issue_id = i.id) AS events FROM issues i WHERE id = ?').get(id) as Row | undefined;
    return r ? toIssue(r) : null;
  }

  async issueEvents(id: string, limit: number): Promise<string[]> {
    return (this.stmt('SELECT event_id, max(at) AS at FROM issue_occurrences WHERE issue_id = ? AND event_id IS NOT NULL GROUP BY event_id ORDER BY at DESC LIMIT ?').all(id, limit) as Row[]).map((r) => str(r.event_id));
  }

  async setIssueState(id: string, state: IssueState, by: string, at: number, only?: { states: IssueState[]; lastSeen?: number }): Promise<IssueRow | null> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const before = this.stmt('SELECT state, last_seen FROM issues WHERE id = ?').get(id) as Row | undefined;
      if (only && (!before || !only.states.includes(str(before.state) as IssueState) || (only.lastSeen !== undefined && Number(before.last_seen) !== only.lastSeen))) {
        this.db.exec('ROLLBACK');
        return null;
      }
      this.stmt('UPDATE issues SET state = ?, state_at = ?, state_by = ? WHERE id = ?').run(state, at, by, id);
      if (before && state === 'resolved' && str(before.state) !== 'resolved') this.stmt('INSERT INTO issue_changes (issue_id, change, at, event_id) VALUES (?, ?, ?, ?)').run(id, 'resolved', at, eventId(Date.now()));
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    return this.issue(id);
  }

  async issueOccurrencesSince(id: string, since: number): Promise<number> {
    return this.occurrencesSince(id, since);
  }

  /** An issue's occurrences after `since` (synchronous: recordIssues counts inside its transaction). */
  private occurrencesSince(id: string, since: number): number {
    return Number((this.stmt('SELECT count(*) AS n FROM issue_occurrences WHERE issue_id = ? AND at > ?').get(id, since) as Row).n);
  }

  async workedSince(destination: string, since: number, what: 'delivered' | 'applied'): Promise<boolean> {
    const row = what === 'delivered'
      ? this.stmt("SELECT 1 FROM deliveries WHERE destination = ? AND state = 'delivered' AND state_at > ? LIMIT 1").get(destination, since)
      : this.stmt("SELECT 1 FROM receipts WHERE destination = ? AND status = 'applied' AND at > ? LIMIT 1").get(destination, since);
    return row !== undefined;
  }

  async unpublishedIssueChanges(limit: number): Promise<IssueChangeRecord[]> {
    return (this.stmt(`SELECT c.*, (SELECT max(p.sent_at) FROM issue_changes p WHERE p.issue_id = c.issue_id AND p.change IN ('opened', 'reopened')) AS last_alert_at
      FROM issue_changes c WHERE c.published = 0 ORDER BY c.seq LIMIT ?`).all(limit) as Row[])
      .map((r) => ({ seq: Number(r.seq), issueId: str(r.issue_id), change: str(r.change) as IssueChangeRecord['change'], at: Number(r.at), eventId: str(r.event_id), lastAlertAt: optNum(r.last_alert_at) }));
  }

  async markIssueChangesPublished(seqs: number[], sentAt: number | null): Promise<void> {
    const mark = this.stmt('UPDATE issue_changes SET published = 1, sent_at = ? WHERE seq = ? AND published = 0');
    for (const q of seqs) mark.run(sentAt, q);
  }

  async recordAudit(e: AuditEntry): Promise<void> {
    this.stmt('INSERT INTO audit (at, user, role, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)').run(e.at, e.user, e.role, e.action, e.target, JSON.stringify(e.detail));
  }

  async auditLog(q: { limit: number; cursor?: string }): Promise<Page<AuditRow>> {
    if (q.cursor !== undefined && !/^\d+$/.test(q.cursor)) return { items: [], next: null };
    const rows = (q.cursor === undefined
      ? this.stmt('SELECT * FROM audit ORDER BY seq DESC LIMIT ?').all(q.limit + 1)
      : this.stmt('SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?').all(Number(q.cursor), q.limit + 1)) as Row[];
    const items = rows.slice(0, q.limit).map(toAudit);
    return { items, next: rows.length > q.limit ? String(items[items.length - 1]!.seq) : null };
  }

  async stats(): Promise<StoreStats> {
    const events = Number((this.stmt('SELECT count(*) AS n FROM events').get() as Row).n);
    const pages = Number((this.stmt('PRAGMA page_count').get() as Row).page_count);
    const size = Number((this.stmt('PRAGMA page_size').get() as Row).page_size);
    return { events, bytes: pages * size };
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }
}

