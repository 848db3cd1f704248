// Per-destination protection state shared by every deliverer replica, in Redis: the
// circuit breaker, the rate limit (GCRA, burst 1: requests are spaced evenly) and a
// concurrency semaphore with leases — and, with them, each attempt's own keys (the
// delivered mark, the send lease, the per-key retry hint; see dedup-store.ts). An attempt
// costs two round trips, one Lua script before it is sent (`begin`) and one after its
// answer (`finish`), so replicas agree and a per-key destination's chain of awaits per
// record stays short.
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { deliveredKey } from './dedup-store.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  consecutiveFailures: number;
  failureRate: number;
  minRequests: number;
  windowMs: number;
  cooldownMs: number;
}

/** go: send now (probe: the one half-open trial); wait: rate limit, try again after waitMs; open: breaker open for waitMs more. */
export type AdmitResult = { kind: 'go'; probe: boolean } | { kind: 'wait'; waitMs: number } | { kind: 'open'; waitMs: number };

/**
 * What `begin` found, in one round trip. `hintAttempt`: attempts an earlier owner of the
 * record made (its per-key retry hint), 0 when none was asked for or found.
 * delivered: the (destination, event) was delivered already; busy: another replica holds
 * its send lease; due: an earlier owner's retry is not due for waitMs.
 */
export type BeginResult =
  | ({ kind: 'go'; probe: boolean; hintAttempt: number })
  | { kind: 'wait'; waitMs: number }
  | { kind: 'open'; waitMs: number }
  | { kind: 'delivered'; hintAttempt: number }
  | { kind: 'busy' }
  | { kind: 'due'; waitMs: number; hintAttempt: number };

/** How an attempt ends for its (destination, event) keys. */
export type Settle =
  | { kind: 'delivered' } // the delivered mark (dedup window), lease and hint dropped
  | { kind: 'dead' } // lease and hint dropped: nothing more will be tried
  | { kind: 'retry'; hint?: { attempt: number; notBefore: number; ttlMs: number } } // lease dropped; per-key: the hint kept for a restart
  | { kind: 'release' }; // not sent (shutting down): lease dropped

export interface BreakerStatus {
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: number | null;
  probeAt: number | null;
}

// Everything an attempt asks before it is sent, in one script (each key's meaning in
// `begin`): the per-key retry hint, the delivered mark, the send lease, the rate limits
// (GCRA) and the breaker. Nothing is consumed unless the answer is "go": a delivered or
// leased event takes no rate-limit slot and no probe.
// KEYS: mark, lease, hint, breaker hash, per-second TAT, per-minute TAT.
// ARGV: now, owner, leaseMs, readHint, cooldownMs, probeLeaseMs, breakerEnabled,
// interval per second (0: none), interval per minute (0: none).
// Returns {code, ms, hintAttempt}: 0 go, 3 go as the probe, 2 rate wait, 1 open,
// 4 delivered, 6 busy, 5 hint not due.
const BEGIN = `
local now = tonumber(ARGV[1])
local hintAttempt = 0
if ARGV[4] == '1' then
  local h = redis.call('GET', KEYS[3])
  if h then
    local a, nb = string.match(h, '^(%d+):([%d%.]+)$')
    if a then
      hintAttempt = tonumber(a)
      local due = tonumber(nb) - now
      if due > 50 then return {5, due, hintAttempt} end
    end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {4, 0, hintAttempt} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {6, 0, hintAttempt} end
local wait = 0
local tats = {}
for i = 1, 2 do
  local interval = tonumber(ARGV[7 + i])
  if interval > 0 then
    local tat = tonumber(redis.call('GET', KEYS[4 + i]) or '0')
    if tat < now then tat = now end
    if tat > now then wait = math.max(wait, tat - now) end
    tats[i] = tat + interval
  end
end
if wait > 0 then return {2, wait, hintAttempt} end
local probe = 0
if ARGV[7] == '1' and redis.call('HGET', KEYS[4], 'state') == 'open' then
  local reopen = tonumber(redis.call('HGET', KEYS[4], 'openedAt') or '0') + tonumber(ARGV[5])
  if now < reopen then return {1, reopen - now, hintAttempt} end
  local probeUntil = tonumber(redis.call('HGET', KEYS[4], 'probeUntil') or '0')
  if now < probeUntil then return {1, math.min(probeUntil - now, 1000), hintAttempt} end
  redis.call('HSET', KEYS[4], 'probeUntil', now + tonumber(ARGV[6]))
  probe = 1
end
for i = 1, 2 do
  if tats[i] then redis.call('SET', KEYS[4 + i], tats[i], 'PX', math.floor(tats[i] - now + 60000)) end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if probe == 1 then return {3, 0, hintAttempt} end
return {0, 0, hintAttempt}`;

// Everything after an attempt's answer, in one script: the breaker report and what
// becomes of the event's keys (see Settle).
// KEYS: mark, lease, hint, breaker hash, window bucket.
// ARGV: now, report ('none' | 'ok' | 'fail'), probe, consecutive threshold, windowMs,
// minRequests, failure rate (per mille), settle, mark TTL s, mark value, hint ('' none),
// hint TTL ms. Returns the breaker state after the report ('' when none was made).
const FINISH = `
local now = tonumber(ARGV[1])
local function report(ok, probe)
  local state = redis.call('HGET', KEYS[4], 'state') or 'closed'
  if ok then
    if state == 'open' then
      -- Closing starts the failure-rate count afresh: the failures that opened it must
      -- not re-open it at the next single failure.
      if probe then redis.call('DEL', KEYS[4], KEYS[5]) return 'closed' end
      return 'open'
    end
    redis.call('HSET', KEYS[4], 'consecutive', 0)
    redis.call('HINCRBY', KEYS[5], 'total', 1)
    redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[5]) * 2)
    return 'closed'
  end
  if state == 'open' then
    if probe then redis.call('HSET', KEYS[4], 'openedAt', now, 'probeUntil', 0) end
    return 'open'
  end
  local c = redis.call('HINCRBY', KEYS[4], 'consecutive', 1)
  local total = redis.call('HINCRBY', KEYS[5], 'total', 1)
  local failed = redis.call('HINCRBY', KEYS[5], 'failed', 1)
  redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[5]) * 2)
  if c >= tonumber(ARGV[4]) or (total >= tonumber(ARGV[6]) and failed * 1000 >= tonumber(ARGV[7]) * total) then
    redis.call('HSET', KEYS[4], 'state', 'open', 'openedAt', now, 'probeUntil', 0)
    return 'opened'
  end
  return 'closed'
end
local state = ''
if ARGV[2] ~= 'none' then state = report(ARGV[2] == 'ok', ARGV[3] == '1') end
local settle = ARGV[8]
if settle == 'delivered' then
  redis.call('SET', KEYS[1], ARGV[10], 'EX', ARGV[9])
  redis.call('DEL', KEYS[2], KEYS[3])
elseif settle == 'dead' then
  redis.call('DEL', KEYS[2], KEYS[3])
else
  redis.call('DEL', KEYS[2])
  if ARGV[11] ~= '' then redis.call('SET', KEYS[3], ARGV[11], 'PX', ARGV[12]) end
end
return state`;

// KEYS: semaphore zset. ARGV: now, holder, leaseMs, max.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0`;

/**
 * Admissions are spaced 5 % wider than the rate asks: what a destination measures is
 * arrival times, which network and scheduling jitter move by a few ms; without the margin
 * a 1 s window at the destination can see rate + 1.
 */
export const RATE_MARGIN = 1.05;

type Scripts = {
  hookyardBegin(...keysAndArgs: (string | number)[]): Promise<[number, number, number]>;
  hookyardFinish(...keysAndArgs: (string | number)[]): Promise<string>;
  hookyardAcquire(k1: string, ...argv: (string | number)[]): Promise<number>;
};

export interface AdmitOptions {
  breaker: BreakerOptions | null;
  perSecond?: number | undefined;
  perMinute?: number | undefined;
  probeLeaseMs: number;
}

export class RedisProtectionStore {
  private readonly redis: Redis & Scripts;
  private readonly prefix: string;
  private readonly rawPrefix: string;
  /** Who holds a send lease (for an operator reading Redis). */
  private readonly owner = `${hostname()}:${process.pid}`;

  constructor(url: string, prefix: string) {
    this.rawPrefix = prefix;
    this.prefix = `${prefix}hookyard:dest:`;
    const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, enableAutoPipelining: true });
    redis.defineCommand('hookyardBegin', { numberOfKeys: 6, lua: BEGIN });
    redis.defineCommand('hookyardFinish', { numberOfKeys: 5, lua: FINISH });
    redis.defineCommand('hookyardAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    redis.on('error', () => { /* reported per call */ });
    this.redis = redis as Redis & Scripts;
  }

  private k(dest: string, what: string): string {
    return `${this.prefix}${dest}:${what}`;
  }

  /**
   * Before an attempt, one round trip: the per-key retry hint (`readHint`), the delivered
   * mark, the send lease (taken on "go", for `leaseMs`), the rate limits and the breaker.
   */
  async begin(dest: string, eventId: string, now: number, o: AdmitOptions & { leaseMs: number; readHint: boolean }): Promise<BeginResult> {
    const mark = deliveredKey(this.rawPrefix, dest, eventId);
    const [code, ms, hintAttempt] = await this.redis.hookyardBegin(
      mark, `${mark}:claim`, `${mark}:retry`, this.k(dest, 'breaker'), this.k(dest, 'rate:s'), this.k(dest, 'rate:m'),
      now, this.owner, Math.max(1, Math.round(o.leaseMs)), o.readHint ? '1' : '0', o.breaker?.cooldownMs ?? 0, o.probeLeaseMs, o.breaker ? '1' : '0',
      o.perSecond ? (1000 / o.perSecond) * RATE_MARGIN : 0, o.perMinute ? (60_000 / o.perMinute) * RATE_MARGIN : 0,
    );
    switch (code) {
      case 0: case 3: return { kind: 'go', probe: code === 3, hintAttempt };
      case 2: return { kind: 'wait', waitMs: Math.max(1, ms) }; // Lua numbers come back as whole ms
      case 1: return { kind: 'open', waitMs: ms };
      case 4: return { kind: 'delivered', hintAttempt };
      case 5: return { kind: 'due', waitMs: ms, hintAttempt };
      default: return { kind: 'busy' };
    }
  }

  /**
   * After an attempt's answer, one round trip: the breaker report (`report` null: none) and
   * the event's keys settled. Returns the breaker state after the report ('opened' when
   * this failure opened it), null when no report was made.
   */
  async finish(dest: string, eventId: string, now: number, o: { report: { ok: boolean; probe: boolean; breaker: BreakerOptions } | null; settle: Settle; markTtlSeconds: number }): Promise<'closed' | 'open' | 'opened' | null> {
    const mark = deliveredKey(this.rawPrefix, dest, eventId);
    const b = o.report?.breaker;
    const hint = o.settle.kind === 'retry' && o.settle.hint ? o.settle.hint : null;
    const state = await this.redis.hookyardFinish(
      mark, `${mark}:claim`, `${mark}:retry`, this.k(dest, 'breaker'), this.k(dest, `window:${Math.floor(now / (b?.windowMs ?? 60_000))}`),
      now, o.report ? (o.report.ok ? 'ok' : 'fail') : 'none', o.report?.probe ? '1' : '0',
      b?.consecutiveFailures ?? 0, b?.windowMs ?? 60_000, b?.minRequests ?? 0, Math.round((b?.failureRate ?? 1) * 1000),
      o.settle.kind, Math.max(1, Math.round(o.markTtlSeconds)), String(now),
      hint ? `${hint.attempt}:${Math.round(hint.notBefore)}` : '', hint ? Math.max(1, Math.round(hint.ttlMs)) : 1,
    );
    return state === '' ? null : (state as 'closed' | 'open' | 'opened');
  }

  async acquire(dest: string, holder: string, max: number, leaseMs: number): Promise<boolean> {
    return (await this.redis.hookyardAcquire(this.k(dest, 'inflight'), Date.now(), holder, leaseMs, max)) === 1;
  }

  async release(dest: string, holder: string): Promise<void> {
    await this.redis.zrem(this.k(dest, 'inflight'), holder);
  }

  async breaker(dest: string, cooldownMs: number, now = Date.now()): Promise<BreakerStatus> {
    const h = await this.redis.hgetall(this.k(dest, 'breaker'));
    const openedAt = h.openedAt ? Number(h.openedAt) : null;
    const open = h.state === 'open';
    return {
      state: open ? (openedAt !== null && now >= openedAt + cooldownMs ? 'half-open' : 'open') : 'closed',
      consecutiveFailures: Number(h.consecutive ?? 0),
      openedAt: open ? openedAt : null,
      probeAt: open && openedAt !== null ? openedAt + cooldownMs : null,
    };
  }

  /** Operators' force-close; with the destination's `windowMs`, its failure-rate count starts afresh too. */
  async resetBreaker(dest: string, windowMs?: number): Promise<void> {
    const keys = [this.k(dest, 'breaker')];
    if (windowMs !== undefined) keys.push(this.k(dest, `window:${Math.floor(Date.now() / windowMs)}`));
    await this.redis.del(...keys);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
