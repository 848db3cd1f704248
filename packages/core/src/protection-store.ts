// Per-destination protection state shared by every deliverer replica, in Redis: the
// circuit breaker, the rate limit (GCRA, burst 1: requests are spaced evenly) and a
// concurrency semaphore with leases. Each check is one Lua script, so replicas agree.
import { Redis } from 'ioredis';

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

export interface BreakerStatus {
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: number | null;
  probeAt: number | null;
}

// KEYS: breaker hash, per-second TAT, per-minute TAT. ARGV: now, cooldownMs, probeLeaseMs,
// breakerEnabled, interval per second (0: none), interval per minute (0: none).
const ADMIT = `
local now = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i = 1, 2 do
  local interval = tonumber(ARGV[4 + i])
  if interval > 0 then
    local tat = tonumber(redis.call('GET', KEYS[1 + i]) or '0')
    if tat < now then tat = now end
    if tat > now then wait = math.max(wait, tat - now) end
    tats[i] = tat + interval
  end
end
if wait > 0 then return {2, wait} end
local probe = 0
if ARGV[4] == '1' and redis.call('HGET', KEYS[1], 'state') == 'open' then
  local reopen = tonumber(redis.call('HGET', KEYS[1], 'openedAt') or '0') + tonumber(ARGV[2])
  if now < reopen then return {1, reopen - now} end
  local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0')
  if now < probeUntil then return {1, math.min(probeUntil - now, 1000)} end
  redis.call('HSET', KEYS[1], 'probeUntil', now + tonumber(ARGV[3]))
  probe = 1
end
for i = 1, 2 do
  if tats[i] then redis.call('SET', KEYS[1 + i], tats[i], 'PX', math.floor(tats[i] - now + 60000)) end
end
if probe == 1 then return {3, 0} end
return {0, 0}`;

// KEYS: breaker hash, window bucket. ARGV: now, ok, probe, consecutive threshold,
// windowMs, minRequests, failure rate (per mille). Returns the state after the report.
const REPORT = `
local now = tonumber(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if ARGV[2] == '1' then
  if state == 'open' then
    -- Closing starts the failure-rate count afresh: the failures that opened it must
    -- not re-open it at the next single failure.
    if ARGV[3] == '1' then redis.call('DEL', KEYS[1], KEYS[2]) return 'closed' end
    return 'open'
  end
  redis.call('HSET', KEYS[1], 'consecutive', 0)
  redis.call('HINCRBY', KEYS[2], 'total', 1)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) * 2)
  return 'closed'
end
if state == 'open' then
  if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'openedAt', now, 'probeUntil', 0) end
  return 'open'
end
local c = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
local total = redis.call('HINCRBY', KEYS[2], 'total', 1)
local failed = redis.call('HINCRBY', KEYS[2], 'failed', 1)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) * 2)
if c >= tonumber(ARGV[4]) or (total >= tonumber(ARGV[6]) and failed * 1000 >= tonumber(ARGV[7]) * total) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'openedAt', now, 'probeUntil', 0)
  return 'opened'
end
return 'closed'`;

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
  hookyardAdmit(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<[number, number]>;
  hookyardReport(k1: string, k2: string, ...argv: (string | number)[]): Promise<string>;
  hookyardAcquire(k1: string, ...argv: (string | number)[]): Promise<number>;
};

export class RedisProtectionStore {
  private readonly redis: Redis & Scripts;
  private readonly prefix: string;

  constructor(url: string, prefix: string) {
    this.prefix = `${prefix}hookyard:dest:`;
    const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, enableAutoPipelining: true });
    redis.defineCommand('hookyardAdmit', { numberOfKeys: 3, lua: ADMIT });
    redis.defineCommand('hookyardReport', { numberOfKeys: 2, lua: REPORT });
    redis.defineCommand('hookyardAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    redis.on('error', () => { /* reported per call */ });
    this.redis = redis as Redis & Scripts;
  }

  private k(dest: string, what: string): string {
    return `${this.prefix}${dest}:${what}`;
  }

  async admit(dest: string, now: number, o: { breaker: BreakerOptions | null; perSecond?: number | undefined; perMinute?: number | undefined; probeLeaseMs: number }): Promise<AdmitResult> {
    const [code, waitMs] = await this.redis.hookyardAdmit(
      this.k(dest, 'breaker'), this.k(dest, 'rate:s'), this.k(dest, 'rate:m'),
      now, o.breaker?.cooldownMs ?? 0, o.probeLeaseMs, o.breaker ? '1' : '0',
      o.perSecond ? (1000 / o.perSecond) * RATE_MARGIN : 0, o.perMinute ? (60_000 / o.perMinute) * RATE_MARGIN : 0,
    );
    if (code === 2) return { kind: 'wait', waitMs: Math.max(1, waitMs) }; // Lua numbers come back as whole ms
    if (code === 1) return { kind: 'open', waitMs };
    return { kind: 'go', probe: code === 3 };
  }

  /** Returns 'opened' when this failure opened the breaker. */
  async report(dest: string, now: number, ok: boolean, probe: boolean, b: BreakerOptions): Promise<'closed' | 'open' | 'opened'> {
    const bucket = this.k(dest, `window:${Math.floor(now / b.windowMs)}`);
    return (await this.redis.hookyardReport(this.k(dest, 'breaker'), bucket, now, ok ? '1' : '0', probe ? '1' : '0',
      b.consecutiveFailures, b.windowMs, b.minRequests, Math.round(b.failureRate * 1000))) as 'closed' | 'open' | 'opened';
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
