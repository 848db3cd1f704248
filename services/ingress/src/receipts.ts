// Outcome receipts: POST /receipts/<destination>, from the application a delivery reached,
// saying it applied (or failed to apply) it. Signed the Standard Webhooks way with the
// destination's receipts secret (constant-time, timestamp tolerance); a receipt's own
// webhook-id is accepted once (replays refused); the delivery it names must have been
// delivered there. Captured in the receipts topic with acks=all before the 202, like any event.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { Counter, HookyardError, deliveredKey, type Config, type DestinationConfig, type ErrorCode, type Receipt, type Registry } from '@hookyard/core';
import { standardWebhooks } from './verify/hmac-schemes.ts';
import type { VerifyInput, VerifyResult } from './verify/types.ts';

/** What receipts need of Redis: the delivered marks (read) and the receipts seen (write once). */
export interface ReceiptChecks {
  /** true / false, or undefined when it cannot tell (Redis down: the receipt is accepted). */
  delivered(destination: string, eventId: string): Promise<boolean | undefined>;
  /** Claims a receipt id; false when it was claimed before (a replay). */
  claim(destination: string, receiptId: string, ttlMs: number): Promise<boolean>;
  release(destination: string, receiptId: string): Promise<void>;
  close(): Promise<void>;
}

export class RedisReceiptChecks implements ReceiptChecks {
  private readonly redis: Redis;
  private readonly prefix: string;
  constructor(url: string, prefix: string) {
    this.prefix = prefix;
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, lazyConnect: false });
    this.redis.on('error', () => { /* reported per call */ });
  }
  private seenKey(destination: string, receiptId: string): string {
    return `${this.prefix}hookyard:receipt-seen:${destination}:${receiptId}`;
  }
  async delivered(destination: string, eventId: string): Promise<boolean | undefined> {
    try {
      return (await this.redis.exists(deliveredKey(this.prefix, destination, eventId))) === 1;
    } catch {
      return undefined;
    }
  }
  async claim(destination: string, receiptId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.seenKey(destination, receiptId), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }
  async release(destination: string, receiptId: string): Promise<void> {
    await this.redis.del(this.seenKey(destination, receiptId));
  }
  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

export interface ReceiptDeps {
  config: Config;
  checks: ReceiptChecks;
  capture(r: Receipt): Promise<void>;
  /** Answers a refusal and records it in ingress-rejections (as source `receipts:<destination>`). */
  refuse(reply: FastifyReply, req: FastifyRequest, name: string, code: ErrorCode, reason: string, body: Buffer): FastifyReply;
  metrics: Registry;
  now: () => number;
}

const WEBHOOK_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([a-z0-9][a-z0-9_-]{0,62})$/;

export function receiptRoutes(app: FastifyInstance, deps: ReceiptDeps): void {
  const { checks, now } = deps;
  const total = new Counter({ name: 'hookyard_receipts_total', help: 'Receipts by destination and status (applied, failed, refused)', labelNames: ['destination', 'status'], registers: [deps.metrics] });
  const destinations = new Map<string, { d: DestinationConfig; verify: (i: VerifyInput) => VerifyResult }>();
  for (const d of deps.config.destinations) {
    if (d.receipts) destinations.set(d.name, { d, verify: standardWebhooks({ secret: d.receipts.secret, toleranceSeconds: d.receipts.toleranceSeconds }) });
  }

  app.post<{ Params: { destination: string } }>('/receipts/:destination', async (req, reply) => {
    const name = req.params.destination;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const dest = destinations.get(name);
    if (!dest) {
      total.inc({ destination: '_unknown', status: 'refused' });
      return reply.code(404).send(new HookyardError('DESTINATION_NOT_FOUND').toJSON());
    }
    const refuse = (code: ErrorCode, reason: string) => {
      total.inc({ destination: name, status: 'refused' });
      return deps.refuse(reply, req, name, code, reason, body);
    };
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    const t = now();
    const verdict = dest.verify({ body, headers, method: req.method, url: req.url, rawQuery: '', nowMs: t });
    if (!verdict.ok) return refuse('UNAUTHORIZED', verdict.reason);
    let parsed: { webhookId?: unknown; status?: unknown; detail?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      return refuse('BAD_REQUEST', 'malformed_receipt');
    }
    if ((parsed.status !== 'applied' && parsed.status !== 'failed') || typeof parsed.webhookId !== 'string' || (parsed.detail !== undefined && parsed.detail !== null && typeof parsed.detail !== 'string')) {
      total.inc({ destination: name, status: 'refused' });
      return reply.code(400).send({ error: { code: 'BAD_REQUEST', message: 'a receipt is {"webhookId": "<the webhook-id header you received>", "status": "applied" | "failed", "detail"?: "…"}' } });
    }
    const m = WEBHOOK_ID.exec(parsed.webhookId);
    if (!m || m[2] !== name) return refuse('UNKNOWN_WEBHOOK_ID', 'unknown_webhook_id');
    const eventId = m[1]!;
    // Redis down: the receipt is kept (the index judges it against its deliveries).
    if ((await checks.delivered(name, eventId)) === false) return refuse('UNKNOWN_WEBHOOK_ID', 'unknown_webhook_id');
    const receiptId = (headers['webhook-id'] ?? headers['svix-id'])!;
    // A receipt id is claimed for twice the tolerance: older copies fail the timestamp check.
    const claimed = await checks.claim(name, receiptId, dest.d.receipts!.toleranceSeconds * 2000).catch(() => true);
    if (!claimed) return refuse('UNAUTHORIZED', 'replayed');
    const receipt: Receipt = { receiptId, eventId, destination: name, status: parsed.status, detail: typeof parsed.detail === 'string' ? parsed.detail.slice(0, 2000) : null, receivedAt: t };
    try {
      await deps.capture(receipt);
    } catch (err) {
      // Not captured: the sender's retry must not be refused as a replay.
      await checks.release(name, receiptId).catch(() => {});
      const e = err instanceof HookyardError ? err : new HookyardError('CAPTURE_UNAVAILABLE', undefined, { cause: err });
      return reply.code(e.status).send(e.toJSON());
    }
    total.inc({ destination: name, status: receipt.status });
    return reply.code(202).send({ receipt: receiptId, eventId, status: receipt.status });
  });
}
