// Delivered marks on (destination, event id). Redis is an optimisation of exactly-once,
// never a dependency of at-least-once: when it is down, delivery goes on without dedup.
import { Redis } from 'ioredis';

export interface DedupStore {
  isDelivered(destination: string, eventId: string): Promise<boolean>;
  markDelivered(destination: string, eventId: string): Promise<void>;
  /** A lease on sending (destination, event id): false while another replica holds it. */
  claim(destination: string, eventId: string, leaseMs: number): Promise<boolean>;
  release(destination: string, eventId: string): Promise<void>;
  close(): Promise<void>;
}

export class RedisDedupStore implements DedupStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  constructor(url: string, prefix: string, ttlSeconds = 7 * 24 * 3600) {
    this.prefix = prefix;
    this.ttlSeconds = ttlSeconds;
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, lazyConnect: false });
    this.redis.on('error', () => { /* reported per call */ });
  }

  private key(destination: string, eventId: string): string {
    return `${this.prefix}hookyard:delivered:${destination}:${eventId}`;
  }

  async isDelivered(destination: string, eventId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(destination, eventId))) === 1;
  }

  async markDelivered(destination: string, eventId: string): Promise<void> {
    await this.redis.set(this.key(destination, eventId), String(Date.now()), 'EX', this.ttlSeconds);
  }

  async claim(destination: string, eventId: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.key(destination, eventId)}:claim`, String(process.pid), 'PX', leaseMs, 'NX')) === 'OK';
  }

  async release(destination: string, eventId: string): Promise<void> {
    await this.redis.del(`${this.key(destination, eventId)}:claim`);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
