import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { eventId } from '../../../../packages/core/src/index.ts';
import { emptyBatch } from '../../../../services/console/src/store/driver.ts';
import { PgStore } from '../../../../services/console/src/store/pg/store.ts';
import { attemptHeadersAfterUpgrade, eventRow, storeConformance } from '../../../../services/console/src/store/drivertest/suite.ts';
import { scratchDatabase } from '../../../support/postgres.ts';

// A database of its own per run, on a real server.
const drops: (() => Promise<void>)[] = [];
after(async () => { for (const d of drops) await d(); });
storeConformance('postgres', async () => {
  const db = await scratchDatabase('hookyard_t');
  drops.push(db.drop);
  return PgStore.open({ url: db.url });
});

/** A store on a scratch database and a client of its own beside it (to read the catalog), both closed after `fn`. */
async function withStore(fn: (store: PgStore, client: pg.Client) => Promise<void>): Promise<void> {
  const db = await scratchDatabase('hookyard_t');
  drops.push(db.drop);
  const store = await PgStore.open({ url: db.url });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await fn(store, client);
  } finally {
    await client.end();
    await store.close();
  }
}

test('the store gathers planner statistics of its partitioned tables itself (autovacuum never does)', () => withStore(async (store, client) => {
  const inherited = async () => Number((await client.query(`SELECT count(*) AS n FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid WHERE c.relname = 'events' AND s.stainherit`)).rows[0].n);
  const batch = emptyBatch();
  const t0 = Date.now() - 60_000;
  for (let i = 0; i < 4_000; i++) batch.events.push(eventRow({ id: eventId(t0 + i), receivedAt: t0 + i }));
  await store.write(batch);
  await store.idle();
  assert.equal(await inherited(), 0, 'below the threshold: not yet');
  const more = emptyBatch();
  for (let i = 4_000; i < 5_500; i++) more.events.push(eventRow({ id: eventId(t0 + i), receivedAt: t0 + i }));
  await store.write(more);
  await store.idle();
  assert.ok(await inherited() > 0, 'the parent table has statistics');
}));

test('a database from before attempts kept their headers gets the column, in its existing partitions too', async () => {
  const db = await scratchDatabase('hookyard_t');
  drops.push(db.drop);
  await attemptHeadersAfterUpgrade(() => PgStore.open({ url: db.url }), async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('ALTER TABLE attempts DROP COLUMN request_headers').finally(() => client.end());
  });
});

test('retention drops whole day partitions before the cut (no row-by-row DELETE), and only rows older than the cut on its own day', () => withStore(async (store, client) => {
  const day = 86_400_000;
  const today = Math.floor(Date.now() / day) * day;
  const at = [today - 3 * day + 1000, today - 2 * day + 1000, today + 1000, today + 5000];
  const batch = emptyBatch();
  for (const t of at) batch.events.push(eventRow({ id: eventId(t), receivedAt: t }));
  await store.write(batch);
  const parts = async () => (await client.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events' ORDER BY 1`)).rows.map((r) => r.name);
  const stamp = (t: number) => new Date(t).toISOString().slice(0, 10).replaceAll('-', '');
  assert.deepEqual(await parts(), [today - 3 * day, today - 2 * day, today].map((t) => `events_p${stamp(t)}`));
  const r = await store.prune(today + 2000);
  assert.equal(r.events, 3);
  assert.deepEqual(await parts(), [`events_p${stamp(today)}`], 'the two old days are dropped tables');
  for (const table of ['attempts', 'deliveries', 'decisions']) {
    const left = (await client.query(`SELECT c.relname FROM pg_class c WHERE c.relname LIKE $1`, [`${table}_p${stamp(today - 2 * day)}`])).rowCount;
    assert.equal(left, 0, `${table}'s old day is gone too`);
  }
  assert.equal(Number((await client.query('SELECT count(*) AS n FROM events')).rows[0].n), 1, 'today: only the row after the cut is left');
}));
