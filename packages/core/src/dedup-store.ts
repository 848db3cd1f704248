// Delivered marks on (destination, event id). Redis is an optimisation of exactly-once,
// never a dependency of at-least-once: when it is down, delivery goes on without dedup.
import { Redis } from 'ioredis';

/** Where a (destination, event id)'s delivered mark lives; its send lease and per-key retry hint sit beside it. */
export function deliveredKey(prefix: string, destination: string, eventId: string): string {
  return `${prefix}hookyard:delivered:${destination}:${eventId}`;
}

/**
 * What the CLI reads and changes of the marks. The deliverer sets them, with the send lease
 * and the retry hint, in the scripts of protection-store.ts (one round trip per step).
 */
export interface DedupStore {
  isDelivered(destination: string, eventId: string): Promise<boolean>;
  /** Drops the delivered mark (a forced replay), so the next delivery of the pair is sent. */
  forget(destination: string, eventId: string): Promise<void>;
  close(): Promise<void>;
}

export class RedisDedupStore implements DedupStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  constructor(url: string, prefix: string) {
    this.prefix = prefix;
    // Auto-pipelining: concurrent calls of one process share round trips.
    const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, enableAutoPipelining: true });
    redis.on('error', () => { /* reported per call */ });
    this.redis = redis;
  }

  private key(destination: string, eventId: string): string {
    return deliveredKey(this.prefix, destination, eventId);
  }

  async isDelivered(destination: string, eventId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(destination, eventId))) === 1;
  }

  async forget(destination: string, eventId: string): Promise<void> {
    await this.redis.del(this.key(destination, eventId));
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
