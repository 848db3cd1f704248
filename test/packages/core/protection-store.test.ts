// The shared breaker, rate limit and concurrency semaphore, against real Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisProtectionStore, type BreakerOptions } from '../../../packages/core/src/protection-store.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';

const B: BreakerOptions = { consecutiveFailures: 3, failureRate: 0.5, minRequests: 10, windowMs: 10_000, cooldownMs: 1000 };

async function store(): Promise<RedisProtectionStore> {
  const a = await infra();
  const s = new RedisProtectionStore(a.REDIS_URL, uniquePrefix('prot'));
  await new Promise((r) => setTimeout(r, 200)); // connect (no offline queue by design)
  return s;
}

test('breaker: opens after consecutive failures, one half-open probe after the cooldown, closes on its success', async () => {
  const s = await store();
  try {
    const o = { breaker: B, probeLeaseMs: 5000 };
    let t = 1_000_000;
    assert.deepEqual(await s.admit('d', t, o), { kind: 'go', probe: false });
    assert.equal(await s.report('d', t, false, false, B), 'closed');
    assert.equal(await s.report('d', t, true, false, B), 'closed', 'a success resets the count');
    for (let i = 0; i < 2; i++) assert.equal(await s.report('d', t, false, false, B), 'closed');
    assert.equal(await s.report('d', t, false, false, B), 'opened');
    assert.deepEqual(await s.admit('d', t + 10, o), { kind: 'open', waitMs: 990 });
    assert.equal((await s.breaker('d', B.cooldownMs, t + 10)).state, 'open');
    assert.equal(await s.report('d', t + 20, false, false, B), 'open', 'in-flight failures do not extend it');
    t += 1000;
    assert.equal((await s.breaker('d', B.cooldownMs, t)).state, 'half-open');
    assert.deepEqual(await s.admit('d', t, o), { kind: 'go', probe: true });
    assert.equal((await s.admit('d', t + 1, o)).kind, 'open', 'one probe at a time');
    assert.equal(await s.report('d', t + 5, false, true, B), 'open', 'a failed probe re-opens');
    assert.deepEqual(await s.admit('d', t + 10, o), { kind: 'open', waitMs: 995 });
    t += 1005;
    assert.deepEqual(await s.admit('d', t, o), { kind: 'go', probe: true });
    assert.equal(await s.report('d', t, true, true, B), 'closed');
    assert.deepEqual(await s.admit('d', t, o), { kind: 'go', probe: false });
    assert.equal((await s.breaker('d', B.cooldownMs, t)).state, 'closed');
  } finally {
    await s.close();
  }
});

test('breaker: opens on the failure rate over a window; operators can force-close it', async () => {
  const s = await store();
  try {
    const t = 2_000_000;
    // Alternate: never 3 in a row, but 50 % of 10.
    let last = '';
    for (let i = 0; i < 10; i++) last = await s.report('r', t, i % 2 === 0, false, B);
    assert.equal(last, 'opened');
    assert.equal((await s.admit('r', t, { breaker: B, probeLeaseMs: 5000 })).kind, 'open');
    await s.resetBreaker('r');
    assert.equal((await s.admit('r', t, { breaker: B, probeLeaseMs: 5000 })).kind, 'go');
  } finally {
    await s.close();
  }
});

test('breaker: closing after a probe starts the failure-rate count afresh', async () => {
  const s = await store();
  try {
    const o = { breaker: B, probeLeaseMs: 5000 };
    let t = 3_000_000;
    let last = '';
    for (let i = 0; i < 10; i++) last = await s.report('f', t, i % 2 === 0, false, B);
    assert.equal(last, 'opened');
    t += B.cooldownMs;
    assert.deepEqual(await s.admit('f', t, o), { kind: 'go', probe: true });
    assert.equal(await s.report('f', t, true, true, B), 'closed');
    // Still inside the same window: one failure after the close is not a 50 % rate.
    assert.equal(await s.report('f', t + 1, false, false, B), 'closed');
    assert.equal(await s.report('f', t + 2, true, false, B), 'closed');
  } finally {
    await s.close();
  }
});

test('rate limit: evenly spaced admissions, per second and per minute', async () => {
  const s = await store();
  try {
    const t = 3_000_000;
    assert.equal((await s.admit('x', t, { breaker: null, perSecond: 20, probeLeaseMs: 1 })).kind, 'go');
    // 20/s: one every 50 ms, plus the 5 % margin: 52.5 ms (Redis answers whole ms).
    assert.deepEqual(await s.admit('x', t, { breaker: null, perSecond: 20, probeLeaseMs: 1 }), { kind: 'wait', waitMs: 52 });
    assert.deepEqual(await s.admit('x', t + 30, { breaker: null, perSecond: 20, probeLeaseMs: 1 }), { kind: 'wait', waitMs: 22 });
    assert.equal((await s.admit('x', t + 53, { breaker: null, perSecond: 20, probeLeaseMs: 1 })).kind, 'go');
    assert.equal((await s.admit('y', t, { breaker: null, perMinute: 6, probeLeaseMs: 1 })).kind, 'go');
    assert.deepEqual(await s.admit('y', t + 1000, { breaker: null, perMinute: 6, probeLeaseMs: 1 }), { kind: 'wait', waitMs: 9500 });
  } finally {
    await s.close();
  }
});

test('concurrency: at most max holders, leases expire', async () => {
  const s = await store();
  try {
    assert.equal(await s.acquire('c', 'a', 2, 10_000), true);
    assert.equal(await s.acquire('c', 'b', 2, 10_000), true);
    assert.equal(await s.acquire('c', 'c', 2, 10_000), false);
    await s.release('c', 'a');
    assert.equal(await s.acquire('c', 'c', 2, 200), true);
    assert.equal(await s.acquire('c', 'd', 2, 10_000), false);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await s.acquire('c', 'd', 2, 10_000), true, 'the expired lease of a dead holder is reclaimed');
  } finally {
    await s.close();
  }
});
