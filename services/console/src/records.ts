// Kafka records → index rows. Pure: the indexer decodes, this decides what a row holds.
import { bodyForMatching, keyAt, redactHeaders, type Config, type DeadLetter, type Delivery, type DeliveryAttempt, type IngressRejection, type RawEvent, type Receipt, type RequestView, type RoutingDecision } from '@hookyard/core';
import type { AttemptRow, Coordinates, DeadLetterRow, DecisionRow, DeliveryRecordRow, EventRow, ReceiptRow, RejectionRow } from './store/driver.ts';

/** Headers providers put their own webhook id in, most specific first. */
const WEBHOOK_ID_HEADERS = ['webhook-id', 'svix-id', 'x-github-delivery', 'x-shopify-webhook-id', 'x-request-id'];

export interface EventMapping {
  maxBodyBytes: number;
  sources: Map<string, Config['sources'][number]>;
}

export function eventMapping(config: Config): EventMapping {
  return { maxBodyBytes: config.console.maxBodyBytes, sources: new Map(config.sources.map((s) => [s.name, s])) };
}

export function eventRow(m: EventMapping, e: RawEvent, kafka: Coordinates): EventRow {
  const source = m.sources.get(e.source);
  const apiKeyHeader = source?.verify.type === 'api-key' ? source.verify.header?.toLowerCase() : undefined;
  // eventType and the provider's id come from the source's own paths, as ingress reads them.
  const needsBody = [source?.eventType, source?.dedupKey].some((p) => p?.startsWith('body'));
  const view: RequestView = { body: needsBody ? bodyForMatching(e) : undefined, headers: e.headers, query: Object.fromEntries(new URLSearchParams(e.query)), path: e.path };
  const eventType = source?.eventType ? keyAt(view, source.eventType) ?? null : null;
  const webhookId = (source?.dedupKey ? keyAt(view, source.dedupKey) : undefined) ?? WEBHOOK_ID_HEADERS.map((h) => e.headers[h]).find((v) => v !== undefined && v !== '') ?? null;
  return {
    id: e.id, source: e.source, receivedAt: e.receivedAt, method: e.method, path: e.path, query: redactQuery(e.query, source),
    headers: redactHeaders(e.headers, apiKeyHeader ? [apiKeyHeader] : []),
    body: e.body.length <= m.maxBodyBytes ? Buffer.from(e.body) : null, bodySize: e.body.length, kafka, orderingKey: e.orderingKey,
    eventType, webhookId, replayId: e.replayId,
  };
}

/** An api-key source that takes its key in the query: the key is not stored. */
function redactQuery(query: string, source: Config['sources'][number] | undefined): string {
  if (source?.verify.type !== 'api-key' || !source.verify.query || query === '') return query;
  const params = new URLSearchParams(query);
  if (params.has(source.verify.query)) params.set(source.verify.query, '[redacted]');
  return params.toString();
}

export function decisionRows(d: RoutingDecision): DecisionRow[] {
  return d.decisions.map((x) => ({ eventId: d.eventId, destination: x.destination, outcome: x.outcome, error: x.error, at: d.routedAt, replayId: d.replayId, configVersion: d.configVersion ?? null }));
}

export function deliveryRecordRow(d: Delivery, timestamp: number, kafka: Coordinates): DeliveryRecordRow {
  return { eventId: d.eventId, source: d.source, destination: d.destination, receivedAt: d.receivedAt, at: timestamp, replayId: d.replayId, kafka };
}

export function attemptRow(a: DeliveryAttempt, kafka: Coordinates): AttemptRow {
  return {
    kafka, eventId: a.eventId, destination: a.destination, attempt: a.attempt, at: a.at, status: a.status, outcome: a.outcome, latencyMs: a.latencyMs,
    error: a.error, responseSnippet: a.responseSnippet, nextAttemptAt: a.nextAttemptAt, requestHeaders: a.requestHeaders ?? null,
  };
}

export function deadLetterRow(d: DeadLetter, kafka: Coordinates): DeadLetterRow {
  return {
    kafka, eventId: d.eventId, source: d.source, destination: d.destination, receivedAt: d.receivedAt, stage: d.stage, attempts: d.attempts,
    lastStatus: d.lastStatus, lastError: d.lastError, deadAt: d.deadAt, replayId: d.replayId,
  };
}

export function rejectionRow(r: IngressRejection, kafka: Coordinates): RejectionRow {
  return { kafka, ...r, headers: redactHeaders(r.headers) };
}

export function receiptRow(r: Receipt, kafka: Coordinates): ReceiptRow {
  return { kafka, receiptId: r.receiptId, eventId: r.eventId, destination: r.destination, status: r.status, detail: r.detail, at: r.receivedAt };
}
