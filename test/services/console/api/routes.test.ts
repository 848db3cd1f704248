// The API's "not found" tells "not indexed yet" from "not there": the answer carries the
// index's lag, and its message says which. The store here is a stand-in that never has the
// event (pure routing logic; the real stores are in store/*.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { apiRoutes } from '../../../../services/console/src/api/routes.ts';
import { tokenCheck } from '../../../../services/console/src/api/auth.ts';
import type { IndexFreshness } from '../../../../services/console/src/freshness.ts';
import type { IndexStore } from '../../../../services/console/src/store/driver.ts';

const TOKEN = 'routes-test-token-0123456789';
const ID = '019af7c2-0000-7000-8000-000000000001';

async function notFound(freshness: IndexFreshness): Promise<{ status: number; body: { error: { code: string; message: string }; index: IndexFreshness } }> {
  const app = Fastify();
  const store = { trace: async () => null } as unknown as IndexStore;
  apiRoutes(app, { store: () => store, live: { holds: async () => new Map() }, freshness: () => freshness, check: tokenCheck([{ name: 'ops', token: TOKEN }]) });
  try {
    const res = await app.inject({ url: `/api/v1/events/${ID}`, headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: res.statusCode, body: res.json() };
  } finally {
    await app.close();
  }
}

test('an event the index lacks while it is behind Kafka: 404 that says it may not be indexed yet, with the lag', async () => {
  const r = await notFound({ lag: { 'raw-events': 12, 'delivery-attempts': 3 }, totalLag: 15, checkedAt: new Date().toISOString() });
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'not_found');
  assert.match(r.body.error.message, /15 records behind Kafka, so it may not be indexed yet/);
  assert.equal(r.body.index.totalLag, 15);
});

test('the lag not measured yet counts as behind; an index up to date says so', async () => {
  const unknown = await notFound({ lag: null, totalLag: null, checkedAt: null });
  assert.match(unknown.body.error.message, /an unknown number of records behind Kafka/);
  const current = await notFound({ lag: { 'raw-events': 0 }, totalLag: 0, checkedAt: new Date().toISOString() });
  assert.equal(current.status, 404);
  assert.match(current.body.error.message, /not in the index \(the index is up to date\)/);
});
