// Delivered marks, send leases and retry hints on (destination, event id). Redis is an
// optimisation of exactly-once, never a dependency of at-least-once: when it is down,
// delivery goes on without dedup.
import { Redis } from 'ioredis';

/** What a claim found: free and now ours, already delivered, or leased by another replica. */
export type ClaimResult = 'claimed' | 'delivered' | 'busy';

/** Where a per-key delivery's retries stand, so a restart resumes the schedule. */
export interface RetryState {
  attempt: number;
  notBefore: number;
}

export interface DedupStore {
  /** One round trip: checks the delivered mark and takes the send lease if it is free. */
  claim(destination: string, eventId: string, leaseMs: number): Promise<ClaimResult>;
  /** Sets the delivered mark (dedup window as TTL) and drops the lease and retry hint. */
  markDelivered(destination: string, eventId: string): Promise<void>;
  release(destination: string, eventId: string): Promise<void>;
  isDelivered(destination: string, eventId: string): Promise<boolean>;
  /** Drops the delivered mark (a forced replay), so the next delivery of the pair is sent. */
  forget(destination: string, eventId: string): Promise<void>;
  retryState(destination: string, eventId: string): Promise<RetryState | null>;
  saveRetryState(destination: string, eventId: string, state: RetryState | null, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

// KEYS[1] delivered mark, KEYS[2] lease; ARGV[1] owner, ARGV[2] lease ms.
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'delivered' end
if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return 'claimed' end
return 'busy'`;

export class RedisDedupStore implements DedupStore {
  private readonly redis: Redis & { hookyardClaim(k1: string, k2: string, owner: string, leaseMs: number): Promise<ClaimResult> };
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  constructor(url: string, prefix: string, ttlSeconds = 7 * 24 * 3600) {
    this.prefix = prefix;
    this.ttlSeconds = ttlSeconds;
    // Auto-pipelining: concurrent attempts of one process share round trips.
    const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, enableAutoPipelining: true });
    redis.defineCommand('hookyardClaim', { numberOfKeys: 2, lua: CLAIM });
    redis.on('error', () => { /* reported per call */ });
    this.redis = redis as typeof this.redis;
  }

  private key(destination: string, eventId: string): string {
    return `${this.prefix}hookyard:delivered:${destination}:${eventId}`;
  }

  async claim(destination: string, eventId: string, leaseMs: number): Promise<ClaimResult> {
    const k = this.key(destination, eventId);
    return this.redis.hookyardClaim(k, `${k}:claim`, String(process.pid), leaseMs);
  }

  async markDelivered(destination: string, eventId: string): Promise<void> {
    const k = this.key(destination, eventId);
    await this.redis.multi().set(k, String(Date.now()), 'EX', this.ttlSeconds).del(`${k}:claim`, `${k}:retry`).exec();
  }

  async release(destination: string, eventId: string): Promise<void> {
    await this.redis.del(`${this.key(destination, eventId)}:claim`);
  }

  async isDelivered(destination: string, eventId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(destination, eventId))) === 1;
  }

  async forget(destination: string, eventId: string): Promise<void> {
    await this.redis.del(this.key(destination, eventId));
  }

  async retryState(destination: string, eventId: string): Promise<RetryState | null> {
    const v = await this.redis.get(`${this.key(destination, eventId)}:retry`);
    if (!v) return null;
    const [attempt, notBefore] = v.split(':').map(Number);
    return Number.isFinite(attempt) && Number.isFinite(notBefore) ? { attempt: attempt!, notBefore: notBefore! } : null;
  }

  async saveRetryState(destination: string, eventId: string, state: RetryState | null, ttlMs: number): Promise<void> {
    const k = `${this.key(destination, eventId)}:retry`;
    if (state) await this.redis.set(k, `${state.attempt}:${state.notBefore}`, 'PX', ttlMs);
    else await this.redis.del(k);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
