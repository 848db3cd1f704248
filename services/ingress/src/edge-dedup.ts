// Edge dedup: a provider's retry of an event already captured answers 200 with the
// original id. The mark is written only after Kafka acked, so a failed produce never
// makes an event look seen. Redis down → fail open (accept; the deliverer dedups too).
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseDuration, valueAt, type RequestView, type SourceConfig } from '@hookyard/core';

export interface EdgeDedup {
  seen(source: string, key: string): Promise<string | undefined>;
  remember(source: string, key: string, eventId: string, windowMs: number): Promise<void>;
  close(): Promise<void>;
}

export class RedisEdgeDedup implements EdgeDedup {
  private readonly redis: Redis;
  private readonly prefix: string;
  constructor(url: string, prefix: string) {
    this.prefix = prefix;
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 1000 });
    this.redis.on('error', () => { /* reported per call */ });
  }

  private key(source: string, key: string): string {
    return `${this.prefix}hookyard:edge:${source}:${key}`;
  }

  async seen(source: string, key: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(source, key))) ?? undefined;
  }

  async remember(source: string, key: string, eventId: string, windowMs: number): Promise<void> {
    // NX: the first captured copy stays the original.
    await this.redis.set(this.key(source, key), eventId, 'PX', windowMs, 'NX');
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function withoutPath(obj: unknown, parts: string[]): unknown {
  if (parts.length === 0 || obj === null || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const [head, ...rest] = parts;
  const copy = { ...(obj as Record<string, unknown>) };
  if (rest.length === 0) delete copy[head!];
  else if (head! in copy) copy[head!] = withoutPath(copy[head!], rest);
  return copy;
}

/** Stable JSON (sorted keys) so equal payloads hash equally whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The dedup key of a request, or undefined when the source does no edge dedup. */
export function dedupKeyOf(source: SourceConfig, view: RequestView, rawBody: Buffer): string | undefined {
  let material: string | undefined;
  if (source.dedupKey) {
    const v = valueAt(view, source.dedupKey);
    material = v === undefined || v === null || v === '' ? undefined : `k:${canonical(v)}`;
  } else if (source.dedup?.includeFields) {
    material = `i:${canonical(source.dedup.includeFields.map((p) => valueAt(view, p) ?? null))}`;
  } else if (source.dedup) {
    let body: unknown = view.body ?? rawBody.toString('base64');
    for (const p of source.dedup.excludeFields ?? []) {
      const [root, ...rest] = p.split('.');
      if (root === 'body') body = withoutPath(body, rest);
    }
    material = `e:${canonical(body)}`;
  }
  return material === undefined ? undefined : createHash('sha256').update(material).digest('hex');
}

export function dedupWindowMs(source: SourceConfig): number {
  return parseDuration(source.dedup?.window ?? '24h');
}
