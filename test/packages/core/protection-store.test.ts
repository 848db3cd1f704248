// The shared breaker, rate limit and concurrency semaphore, and each attempt's own keys
// (delivered mark, send lease, per-key retry hint), against real Redis: one script before
// an attempt (begin), one after it (finish).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisDedupStore } from '../../../packages/core/src/dedup-store.ts';
import { RedisProtectionStore, type AdmitOptions, type AdmitResult, type BreakerOptions } from '../../../packages/core/src/protection-store.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';

const B: BreakerOptions = { consecutiveFailures: 3, failureRate: 0.5, minRequests: 10, windowMs: 10_000, cooldownMs: 1000 };

let prefix = '';
async function store(): Promise<RedisProtectionStore> {
  const a = await infra();
  prefix = uniquePrefix('prot');
  const s = new RedisProtectionStore(a.REDIS_URL, prefix);
  await new Promise((r) => setTimeout(r, 200)); // connect (no offline queue by design)
  return s;
}

let n = 0;
/** Admission alone: each call for an event of its own, whose lease it then drops. */
async function admit(s: RedisProtectionStore, dest: string, now: number, o: AdmitOptions): Promise<AdmitResult> {
  const id = `e${n++}`;
  const r = await s.begin(dest, id, now, { ...o, leaseMs: 10_000, readHint: false });
  if (r.kind === 'go') await s.finish(dest, id, now, { report: null, settle: { kind: 'release' }, markTtlSeconds: 60 });
  if (r.kind === 'go') return { kind: 'go', probe: r.probe };
  assert.ok(r.kind === 'wait' || r.kind === 'open', r.kind);
  return r;
}

/** A breaker report alone (the event's keys released). */
async function report(s: RedisProtectionStore, dest: string, now: number, ok: boolean, probe: boolean, b: BreakerOptions): Promise<string | null> {
  return s.finish(dest, `e${n++}`, now, { report: { ok, probe, breaker: b }, settle: { kind: 'release' }, markTtlSeconds: 60 });
}

test('breaker: opens after consecutive failures, one half-open probe after the cooldown, closes on its success', async () => {
  const s = await store();
  try {
    const o = { breaker: B, probeLeaseMs: 5000 };
    let t = 1_000_000;
    assert.deepEqual(await admit(s, 'd', t, o), { kind: 'go', probe: false });
    assert.equal(await report(s, 'd', t, false, false, B), 'closed');
    assert.equal(await report(s, 'd', t, true, false, B), 'closed', 'a success resets the count');
    for (let i = 0; i < 2; i++) assert.equal(await report(s, 'd', t, false, false, B), 'closed');
    assert.equal(await report(s, 'd', t, false, false, B), 'opened');
    assert.deepEqual(await admit(s, 'd', t + 10, o), { kind: 'open', waitMs: 990 });
    assert.equal((await s.breaker('d', B.cooldownMs, t + 10)).state, 'open');
    assert.equal(await report(s, 'd', t + 20, false, false, B), 'open', 'in-flight failures do not extend it');
    t += 1000;
    assert.equal((await s.breaker('d', B.cooldownMs, t)).state, 'half-open');
    assert.deepEqual(await admit(s, 'd', t, o), { kind: 'go', probe: true });
    assert.equal((await admit(s, 'd', t + 1, o)).kind, 'open', 'one probe at a time');
    assert.equal(await report(s, 'd', t + 5, false, true, B), 'open', 'a failed probe re-opens');
    assert.deepEqual(await admit(s, 'd', t + 10, o), { kind: 'open', waitMs: 995 });
    t += 1005;
    assert.deepEqual(await admit(s, 'd', t, o), { kind: 'go', probe: true });
    assert.equal(await report(s, 'd', t, true, true, B), 'closed');
    assert.deepEqual(await admit(s, 'd', t, o), { kind: 'go', probe: false });
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
    let last: string | null = '';
    for (let i = 0; i < 10; i++) last = await report(s, 'r', t, i % 2 === 0, false, B);
    assert.equal(last, 'opened');
    assert.equal((await admit(s, 'r', t, { breaker: B, probeLeaseMs: 5000 })).kind, 'open');
    await s.resetBreaker('r');
    assert.equal((await admit(s, 'r', t, { breaker: B, probeLeaseMs: 5000 })).kind, 'go');
  } finally {
    await s.close();
  }
});

test('breaker: closing after a probe starts the failure-rate count afresh', async () => {
  const s = await store();
  try {
    const o = { breaker: B, probeLeaseMs: 5000 };
    let t = 3_000_000;
    let last: string | null = '';
    for (let i = 0; i < 10; i++) last = await report(s, 'f', t, i % 2 === 0, false, B);
    assert.equal(last, 'opened');
    t += B.cooldownMs;
    assert.deepEqual(await admit(s, 'f', t, o), { kind: 'go', probe: true });
    assert.equal(await report(s, 'f', t, true, true, B), 'closed');
    // Still inside the same window: one failure after the close is not a 50 % rate.
    assert.equal(await report(s, 'f', t + 1, false, false, B), 'closed');
    assert.equal(await report(s, 'f', t + 2, true, false, B), 'closed');
  } finally {
    await s.close();
  }
});

test('rate limit: evenly spaced admissions, per second and per minute', async () => {
  const s = await store();
  try {
    const t = 3_000_000;
    assert.equal((await admit(s, 'x', t, { breaker: null, perSecond: 20, probeLeaseMs: 1 })).kind, 'go');
    // 20/s: one every 50 ms, plus the 5 % margin: 52.5 ms (Redis answers whole ms).
    assert.deepEqual(await admit(s, 'x', t, { breaker: null, perSecond: 20, probeLeaseMs: 1 }), { kind: 'wait', waitMs: 52 });
    assert.deepEqual(await admit(s, 'x', t + 30, { breaker: null, perSecond: 20, probeLeaseMs: 1 }), { kind: 'wait', waitMs: 22 });
    assert.equal((await admit(s, 'x', t + 53, { breaker: null, perSecond: 20, probeLeaseMs: 1 })).kind, 'go');
    assert.equal((await admit(s, 'y', t, { breaker: null, perMinute: 6, probeLeaseMs: 1 })).kind, 'go');
    assert.deepEqual(await admit(s, 'y', t + 1000, { breaker: null, perMinute: 6, probeLeaseMs: 1 }), { kind: 'wait', waitMs: 9500 });
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

test('an attempt\'s keys: delivered mark, send lease, per-key retry hint', async () => {
  const s = await store();
  const a = await infra();
  const dedup = new RedisDedupStore(a.REDIS_URL, prefix);
  try {
    const t = 4_000_000;
    const o = { breaker: B, probeLeaseMs: 5000, leaseMs: 10_000, readHint: true };
    const settle = (id: string, kind: 'delivered' | 'dead' | 'release') => s.finish('k', id, t, { report: null, settle: { kind }, markTtlSeconds: 60 });
    assert.deepEqual(await s.begin('k', 'e1', t, o), { kind: 'go', probe: false, hintAttempt: 0 });
    assert.deepEqual(await s.begin('k', 'e1', t, o), { kind: 'busy' }, 'a second replica waits for the lease');
    await settle('e1', 'release');
    assert.equal((await s.begin('k', 'e1', t, o)).kind, 'go', 'a released lease is free');
    await settle('e1', 'delivered');
    assert.equal(await dedup.isDelivered('k', 'e1'), true);
    assert.deepEqual(await s.begin('k', 'e1', t, o), { kind: 'delivered', hintAttempt: 0 }, 'delivered: nothing to send');
    await dedup.forget('k', 'e1');
    assert.equal((await s.begin('k', 'e1', t, o)).kind, 'go', 'a forced replay sends again');
    await settle('e1', 'release');

    assert.equal((await s.begin('k', 'e2', t, { ...o, leaseMs: 100 })).kind, 'go');
    await new Promise((r) => setTimeout(r, 250));
    assert.equal((await s.begin('k', 'e2', t, o)).kind, 'go', 'the lease of a holder that died expires');
    // A failed per-key attempt leaves a hint: the next owner waits for its time, then goes
    // on counting from it.
    await s.finish('k', 'e2', t, { report: null, settle: { kind: 'retry', hint: { attempt: 3, notBefore: t + 5_000.4, ttlMs: 60_000 } }, markTtlSeconds: 60 });
    assert.deepEqual(await s.begin('k', 'e2', t + 1000, o), { kind: 'due', waitMs: 4000, hintAttempt: 3 });
    assert.deepEqual(await s.begin('k', 'e2', t + 1000, { ...o, readHint: false }), { kind: 'go', probe: false, hintAttempt: 0 }, 'unordered does not ask');
    await settle('e2', 'release');
    assert.deepEqual(await s.begin('k', 'e2', t + 5000, o), { kind: 'go', probe: false, hintAttempt: 3 });
    await settle('e2', 'dead');
    assert.deepEqual(await s.begin('k', 'e2', t + 5000, o), { kind: 'go', probe: false, hintAttempt: 0 }, 'dead: the hint is gone (a replay starts afresh)');
    await s.finish('k', 'e2', t, { report: null, settle: { kind: 'retry', hint: { attempt: 1, notBefore: t, ttlMs: 60_000 } }, markTtlSeconds: 60 });
    assert.equal((await s.begin('k', 'e2', t, o)).kind, 'go');
    await settle('e2', 'delivered');
    assert.deepEqual(await s.begin('k', 'e2', t, o), { kind: 'delivered', hintAttempt: 0 }, 'delivered: the hint is gone too');
  } finally {
    await dedup.close();
    await s.close();
  }
});

test('a delivered or leased event takes no rate-limit slot and no probe', async () => {
  const s = await store();
  try {
    const t = 5_000_000;
    const o = { breaker: B, perSecond: 1, probeLeaseMs: 5000, leaseMs: 10_000, readHint: false };
    assert.equal((await s.begin('q', 'held', t, o)).kind, 'go');
    assert.deepEqual(await s.begin('q', 'held', t, o), { kind: 'busy' });
    await s.finish('q', 'done', t, { report: null, settle: { kind: 'delivered' }, markTtlSeconds: 60 });
    assert.equal((await s.begin('q', 'done', t, o)).kind, 'delivered');
    assert.deepEqual(await s.begin('q', 'next', t + 1050, o), { kind: 'go', probe: false, hintAttempt: 0 }, 'the slot after the first is free: busy and delivered took none');
    // The breaker: open, cooldown over; a delivered event does not take the probe.
    for (let i = 0; i < 3; i++) await report(s, 'q', t, false, false, B);
    const after = t + 2000 + B.cooldownMs;
    await s.finish('q', 'done2', after, { report: null, settle: { kind: 'delivered' }, markTtlSeconds: 60 });
    assert.equal((await s.begin('q', 'done2', after, o)).kind, 'delivered');
    assert.deepEqual(await s.begin('q', 'probe', after + 1000, o), { kind: 'go', probe: true, hintAttempt: 0 });
  } finally {
    await s.close();
  }
});

test('one round trip each: begin and finish, whatever the destination has configured', async () => {
  const a = await infra();
  const { Redis } = await import('ioredis');
  const monitor = new Redis(a.REDIS_URL);
  const s = await store();
  try {
    const commands: string[] = [];
    const m = await monitor.monitor();
    // What clients send; the commands a script runs inside Redis come as source "lua".
    m.on('monitor', (_t: string, args: string[], source: string) => { if (source !== 'lua' && args.some((x) => x.includes(prefix))) commands.push(args[0]!.toLowerCase()); });
    await new Promise((r) => setTimeout(r, 100));
    const o = { breaker: B, perSecond: 100, perMinute: 6000, probeLeaseMs: 5000, leaseMs: 10_000, readHint: true };
    const r = await s.begin('rt', 'x', Date.now(), o);
    assert.equal(r.kind, 'go');
    await s.finish('rt', 'x', Date.now(), { report: { ok: true, probe: false, breaker: B }, settle: { kind: 'delivered' }, markTtlSeconds: 60 });
    await new Promise((r) => setTimeout(r, 200));
    m.disconnect();
    assert.equal(commands.length, 2, commands.join(' '));
    assert.ok(commands.every((c) => c === 'evalsha' || c === 'eval'), commands.join(' '));
  } finally {
    monitor.disconnect();
    await s.close();
  }
});
