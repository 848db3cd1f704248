// kill -9 of the indexer under load, on each store: the console runs as its own process
// against a real SQLite file, then a real PostgreSQL database, while events and attempt
// records stream into Kafka; it is killed twice mid-stream and started again. Afterwards
// the store holds every record exactly once: no gap (each event and attempt is there) and
// no duplicate (row counts equal the records; SQLite's full-text table, which has no key of
// its own, once per event).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { EnvelopeCodec, ensureTopics, topicNames, type DeliveryAttempt } from '@hookyard/core';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { scratchDatabase } from '../../support/postgres.ts';
import { rawEvent } from '../../support/raw-events.ts';
import { spawnService, testConfig, writeConfigFile } from '../../support/stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'hookyard-console-kill-'));
let child: ChildProcess | undefined;
after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Reads the store the killed console wrote, as its own client. */
interface Reader { count(sql: string): Promise<number>; has(id: string): Promise<boolean>; close(): Promise<void> }

function sqliteReader(path: string): Reader {
  const db = () => new DatabaseSync(path, { readOnly: true });
  return {
    async count(sql) { const d = db(); try { return Number((d.prepare(sql).get() as { n: number }).n); } finally { d.close(); } },
    async has(id) { const d = db(); try { return d.prepare('SELECT 1 FROM events WHERE id = ?').get(id) !== undefined; } finally { d.close(); } },
    async close() {},
  };
}

async function pgReader(url: string): Promise<Reader> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return {
    // Before the console's first start the tables do not exist yet.
    async count(sql) { return Number((await c.query(sql).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n); },
    async has(id) { return (await c.query('SELECT 1 FROM events WHERE id = $1', [id])).rowCount === 1; },
    async close() { await c.end(); },
  };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`kill -9 of the indexer under load leaves no duplicate and no gap (${kind})`, { timeout: 240_000 }, async () => {
    const a = await infra();
    let store: Record<string, unknown> = { type: 'sqlite', path: join(dir, `index-${kind}.db`) };
    let drop = async () => {};
    if (kind === 'postgres') {
      const db = await scratchDatabase('hookyard_kill');
      drop = db.drop;
      store = { type: 'postgres', url: db.url };
    }
    const reader = kind === 'postgres' ? await pgReader(String(store.url)) : sqliteReader(String(store.path));
    try {
      await killAndCount(a, store, reader, kind);
    } finally {
      await reader.close();
      await drop();
    }
  });
}

async function killAndCount(a: Awaited<ReturnType<typeof infra>>, store: Record<string, unknown>, reader: Reader, kind: 'sqlite' | 'postgres'): Promise<void> {
  const raw = {
    kafka: { topicPrefix: uniquePrefix(`console-kill-${kind}`), partitions: 3 },
    console: { store },
    sources: [{ name: 'shop' }],
    destinations: [{ name: 'sink', url: 'http://127.0.0.1:9/hook' }],
  };
  const config = testConfig(raw);
  const file = writeConfigFile(raw);
  const topics = topicNames(config.kafka.topicPrefix);
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, [topics.rawEvents, topics.attempts]);
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  const start = () => spawnService('console', file, a, 'console indexing', { PORT: '0' });
  child = await start();

  const N = 6000;
  const ids: string[] = [];
  const feed = (async () => {
    for (let i = 0; i < N; i += 100) {
      const events = Array.from({ length: 100 }, (_, j) => rawEvent('shop', Date.now(), { n: i + j, note: `load-${i + j}` }));
      ids.push(...events.map((e) => e.id));
      const attempts: DeliveryAttempt[] = events.map((e) => ({ eventId: e.id, destination: 'sink', attempt: 1, at: Date.now(), status: 200, outcome: 'success', latencyMs: 3, error: null, responseSnippet: 'ok', nextAttemptAt: null }));
      await producer.sendBatch({
        acks: -1,
        topicMessages: [
          { topic: topics.rawEvents, messages: await Promise.all(events.map(async (e) => ({ key: e.orderingKey, value: await codec.encode(topics.rawEvents, 'raw-event', e) }))) },
          { topic: topics.attempts, messages: await Promise.all(attempts.map(async (x) => ({ key: x.eventId, value: await codec.encode(topics.attempts, 'delivery-attempt', x) }))) },
        ],
      });
      await new Promise((r) => setTimeout(r, 15));
    }
  })();
  // Two kills while records stream in, each followed by a restart on the same file.
  for (const at of [1500, 3500]) {
    while (ids.length < at) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    child = await start();
  }
  await feed;
  await producer.disconnect();

  const { count } = reader;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && ((await count('SELECT count(*) AS n FROM events')) < N || (await count('SELECT count(*) AS n FROM attempts')) < N)) await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGTERM');
  await new Promise((r) => child!.once('exit', r));
  child = undefined;

  assert.equal(await count('SELECT count(*) AS n FROM events'), N, 'every event once');
  assert.equal(await count('SELECT count(*) AS n FROM attempts'), N, 'every attempt once');
  assert.equal(await count('SELECT count(DISTINCT id) AS n FROM events'), N);
  assert.equal(await count("SELECT count(*) AS n FROM deliveries WHERE state = 'delivered' AND source = 'shop'"), N, 'each delivery delivered, its source filled in');
  const missing: string[] = [];
  for (const id of ids) if (!(await reader.has(id))) missing.push(id);
  assert.deepEqual(missing, []);
  // Full text was indexed once per event, not once per re-read.
  const fts = kind === 'sqlite' ? `SELECT count(*) AS n FROM events_fts WHERE events_fts MATCH '"load"'` : `SELECT count(*) AS n FROM events WHERE fts @@ plainto_tsquery('simple', 'load')`;
  assert.equal(await count(fts), N);
}
