// The Redis dedup store: delivered marks and the send lease, against real Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisDedupStore } from '../../../packages/core/src/dedup-store.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';

test('delivered marks and send leases', async () => {
  const a = await infra();
  const store = new RedisDedupStore(a.REDIS_URL, uniquePrefix('dedup'));
  try {
    await new Promise((r) => setTimeout(r, 200)); // connect (no offline queue by design)
    assert.equal(await store.isDelivered('d', 'e1'), false);
    await store.markDelivered('d', 'e1');
    assert.equal(await store.isDelivered('d', 'e1'), true);
    assert.equal(await store.isDelivered('other', 'e1'), false, 'per destination');
    assert.equal(await store.claim('d', 'e1', 10_000), 'delivered', 'a claim sees the delivered mark');
    assert.equal(await store.claim('d', 'e2', 10_000), 'claimed');
    assert.equal(await store.claim('d', 'e2', 10_000), 'busy', 'a second replica waits');
    await store.release('d', 'e2');
    assert.equal(await store.claim('d', 'e2', 100), 'claimed');
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await store.claim('d', 'e2', 100), 'claimed', 'a lease expires when its holder died');
    await store.markDelivered('d', 'e2');
    assert.equal(await store.claim('d', 'e2', 10_000), 'delivered', 'marking delivered drops the lease');
    assert.equal(await store.retryState('d', 'e3'), null);
    await store.saveRetryState('d', 'e3', { attempt: 2, notBefore: 12345 }, 60_000);
    assert.deepEqual(await store.retryState('d', 'e3'), { attempt: 2, notBefore: 12345 });
    await store.markDelivered('d', 'e3');
    assert.equal(await store.retryState('d', 'e3'), null, 'a delivery clears its retry hint');
  } finally {
    await store.close();
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
