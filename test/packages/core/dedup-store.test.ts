// The CLI's view of delivered marks (the deliverer writes them: protection-store.test.ts),
// against real Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisDedupStore } from '../../../packages/core/src/dedup-store.ts';
import { RedisProtectionStore } from '../../../packages/core/src/protection-store.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';

test('a delivered mark is seen per destination, and forgotten for a forced replay', async () => {
  const a = await infra();
  const prefix = uniquePrefix('dedup');
  const store = new RedisDedupStore(a.REDIS_URL, prefix);
  const writer = new RedisProtectionStore(a.REDIS_URL, prefix);
  try {
    await new Promise((r) => setTimeout(r, 200)); // connect (no offline queue by design)
    assert.equal(await store.isDelivered('d', 'e1'), false);
    await writer.finish('d', 'e1', Date.now(), { report: null, settle: { kind: 'delivered' }, markTtlSeconds: 60 });
    assert.equal(await store.isDelivered('d', 'e1'), true);
    assert.equal(await store.isDelivered('other', 'e1'), false, 'per destination');
    await store.forget('d', 'e1');
    assert.equal(await store.isDelivered('d', 'e1'), false);
  } finally {
    await store.close();
    await writer.close();
  }
});

test('a store whose Redis is down fails fast instead of hanging', async () => {
  const store = new RedisDedupStore('redis://127.0.0.1:1', 'x');
  try {
    const t0 = Date.now();
    await assert.rejects(store.isDelivered('d', 'e'));
    assert.ok(Date.now() - t0 < 3000);
  } finally {
    await store.close();
  }
});
