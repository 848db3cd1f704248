import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { eventId } from '../../../../packages/core/src/index.ts';
import { emptyBatch } from '../../../../services/console/src/store/driver.ts';
import { PgStore } from '../../../../services/console/src/store/pg/store.ts';
import { eventRow, storeConformance } from '../../../../services/console/src/store/drivertest/suite.ts';
import { scratchDatabase } from '../../../support/postgres.ts';

// A database of its own per run, on a real server.
const drops: (() => Promise<void>)[] = [];
after(async () => { for (const d of drops) await d(); });
storeConformance('postgres', async () => {
  const db = await scratchDatabase('hookyard_t');
  drops.push(db.drop);
  return PgStore.open({ url: db.url });
});

test('the store gathers planner statistics of its partitioned tables itself (autovacuum never does)', async () => {
  const db = await scratchDatabase('hookyard_t');
  drops.push(db.drop);
  const store = await PgStore.open({ url: db.url });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
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
  } finally {
    await client.end();
    await store.close();
  }
});
