// How often ingress answered 503 (an event it could not capture), per minute, in Redis: the
// console turns it into an "ingress" issue and an alert. Through Redis, not Kafka, because a
// 503 usually means Kafka is unreachable. Marking never fails a request (Redis down: no mark).
import { Redis } from 'ioredis';

const key = (prefix: string, minute: number) => `${prefix}hookyard:ingress-503:${minute}`;

export class RedisIngressHealth {
  private readonly redis: Redis;
  private readonly prefix: string;
  constructor(url: string, prefix: string) {
    this.prefix = prefix;
    // The offline queue keeps a mark made while the first connection is being opened.
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000 });
    this.redis.on('error', () => { /* marks are best effort */ });
  }

  /** One 503 answered now (fire and forget). */
  mark(now = Date.now()): void {
    const k = key(this.prefix, Math.floor(now / 60_000));
    this.redis.multi().incr(k).pexpire(k, 600_000).exec().catch(() => {});
  }

  /** 503s answered in each of the last `minutes` minutes (the current one included), newest first. */
  async recent(minutes: number, now = Date.now()): Promise<{ minute: number; count: number }[]> {
    const m = Math.floor(now / 60_000);
    const minutesList = Array.from({ length: minutes }, (_, i) => m - i);
    const values = await this.redis.mget(...minutesList.map((x) => key(this.prefix, x)));
    return minutesList.map((minute, i) => ({ minute, count: Number(values[i] ?? 0) }));
  }

  /** Sends what is queued (a second at most: Redis may be down), then closes. */
  async close(): Promise<void> {
    await Promise.race([this.redis.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.redis.disconnect();
  }
}
