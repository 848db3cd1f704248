// Failures → issue occurrences (pure): which issue a failed attempt, a transform error, a
// refusal, a missed or failed receipt or an old backlog belongs to, and its title. The store counts
// them (once per occurrence) and decides opened / reopened; see store/driver.ts.
import { createHash } from 'node:crypto';
import type { RoutingDecision } from '@hookyard/core';
import type { AttemptRow, Coordinates, DeadLetterRow, IssueKind, IssueOccurrence, ReceiptRow, RejectionRow } from './store/driver.ts';

/** The windows of the rate issues' thresholds (per minute, per hour). */
export const REFUSAL_WINDOW_MS = 60_000;
export const DEAD_LETTER_WINDOW_MS = 3_600_000;

/** A stable id for an issue: what failed, where, how. */
export function issueId(kind: IssueKind, target: string, detail: string): string {
  return createHash('sha256').update(`${kind}\u0000${target}\u0000${detail}`).digest('hex').slice(0, 20);
}

const at = (k: Coordinates) => `${k.topic}/${k.partition}/${k.offset}`;

/** An error with no HTTP status, by class: its text varies (addresses, ports), its class does not. */
export function errorClass(error: string | null): string {
  const e = error ?? '';
  if (/timeout|timed out|aborted due to timeout/i.test(e)) return 'timeout';
  if (/ECONNREFUSED|connection refused/i.test(e)) return 'connection refused';
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(e)) return 'DNS failure';
  if (/ECONNRESET|socket hang up|other side closed|UND_ERR_SOCKET/i.test(e)) return 'connection reset';
  if (/certificate|TLS|SSL/i.test(e)) return 'TLS error';
  if (/not allowed|private address|internal address|blocked/i.test(e)) return 'address not allowed';
  return 'error';
}

/** A failed attempt: destination × HTTP status (or error class). */
export function deliveryOccurrence(a: AttemptRow): IssueOccurrence | null {
  if (a.outcome === 'success') return null;
  const detail = a.status !== null ? `HTTP ${a.status}` : errorClass(a.error);
  return {
    issueId: issueId('delivery', a.destination, detail), kind: 'delivery', target: a.destination, title: `${a.destination}: ${detail}`,
    occurrence: at(a.kafka), eventId: a.eventId, at: a.at, sample: [a.error, a.responseSnippet].filter(Boolean).join(' — ').slice(0, 500),
  };
}

/** A transform error: connection (source → destination) × the error's first line. */
export function transformOccurrences(d: RoutingDecision, kafka: Coordinates): IssueOccurrence[] {
  return d.decisions.filter((x) => x.outcome === 'transform_error').map((x) => {
    const error = (x.error ?? 'transform error').split('\n')[0]!.slice(0, 200);
    const target = `${d.source} → ${x.destination}`;
    return { issueId: issueId('transform', target, error), kind: 'transform' as const, target, title: `${target}: ${error}`, occurrence: `${at(kafka)}/${x.destination}`, eventId: d.eventId, at: d.routedAt, sample: x.error ?? '' };
  });
}

/** A refused request: source × reason, an issue only above `perMinute` in a minute. */
export function refusalOccurrence(r: RejectionRow, perMinute: number): IssueOccurrence {
  return {
    issueId: issueId('refusal', r.source, r.reason), kind: 'refusal', target: r.source, title: `${r.source}: requests refused (${r.reason})`,
    occurrence: at(r.kafka), eventId: null, at: r.receivedAt, sample: `${r.status} ${r.code}: ${r.method} ${r.path} from ${r.remoteIp}`,
    threshold: { count: perMinute, windowMs: REFUSAL_WINDOW_MS },
  };
}

/** A delivery past its receipt SLA. */
export function receiptOccurrence(destination: string, eventId: string, now: number, slaSeconds: number): IssueOccurrence {
  return {
    issueId: issueId('receipts', destination, 'sla'), kind: 'receipts', target: destination, title: `${destination}: deliveries not confirmed within ${slaSeconds} s (applied unknown)`,
    occurrence: `sla/${eventId}`, eventId, at: now, sample: `no receipt for ${eventId}.${destination}`,
  };
}

/**
 * A receipt saying the receiver failed to apply the event: its own receipts issue per
 * destination (the delivery itself succeeded, so no delivery issue says it).
 */
export function failedReceiptOccurrence(r: ReceiptRow): IssueOccurrence | null {
  if (r.status !== 'failed') return null;
  return {
    issueId: issueId('receipts', r.destination, 'failed'), kind: 'receipts', target: r.destination, title: `${r.destination}: receipts say events failed to apply`,
    occurrence: at(r.kafka), eventId: r.eventId, at: r.at, sample: (r.detail ?? 'failed (no detail)').slice(0, 500),
  };
}

/** A destination whose oldest pending delivery is older than the threshold: one occurrence per minute it stays so. */
export function backlogOccurrence(destination: string, oldestAgeSeconds: number, pending: number, thresholdSeconds: number, now: number): IssueOccurrence | null {
  if (oldestAgeSeconds <= thresholdSeconds) return null;
  return {
    issueId: issueId('backpressure', destination, 'backlog'), kind: 'backpressure', target: destination, title: `${destination}: backlog older than ${thresholdSeconds} s`,
    occurrence: `backlog/${Math.floor(now / 60_000)}`, eventId: null, at: now, sample: `${pending} pending, the oldest ${Math.round(oldestAgeSeconds)} s old`,
  };
}

/** A dead letter: destination, an issue only above `perHour` in an hour. */
export function deadLetterOccurrence(d: DeadLetterRow, perHour: number): IssueOccurrence | null {
  if (d.destination === '') return null;
  return {
    issueId: issueId('dead_letters', d.destination, 'rate'), kind: 'dead_letters', target: d.destination, title: `${d.destination}: ${perHour}+ dead letters in an hour`,
    occurrence: at(d.kafka), eventId: d.eventId || null, at: d.deadAt, sample: `${d.stage} stage, ${d.attempts} attempts: ${d.lastError}`.slice(0, 500),
    threshold: { count: perHour, windowMs: DEAD_LETTER_WINDOW_MS },
  };
}

/** A destination's breaker open (one occurrence per opening). */
export function breakerOccurrence(destination: string, openedAt: number, failures: number, probeAt: number | null): IssueOccurrence {
  return {
    issueId: issueId('breaker', destination, 'open'), kind: 'breaker', target: destination, title: `${destination}: circuit breaker open`,
    occurrence: `breaker/${openedAt}`, eventId: null, at: openedAt, sample: `${failures} failures in a row${probeAt ? `; next probe ${new Date(probeAt).toISOString()}` : ''}`,
  };
}

/** A destination paused by the deliverer (a 410 Gone): one occurrence per pause. */
export function pausedOccurrence(destination: string, at: number, reason: string): IssueOccurrence {
  return {
    issueId: issueId('paused', destination, 'deliverer'), kind: 'paused', target: destination, title: `${destination}: paused by the deliverer`,
    occurrence: `paused/${at}`, eventId: null, at, sample: reason.slice(0, 500),
  };
}

/** Ingress answered 503 (an event it could not capture): one occurrence per minute it did. */
export function ingressOccurrence(minute: number, count: number): IssueOccurrence {
  return {
    issueId: issueId('ingress', 'ingress', '503'), kind: 'ingress', target: 'ingress', title: 'ingress: answering 503 (events not captured; providers will retry)',
    occurrence: `503/${minute}`, eventId: null, at: minute * 60_000, sample: `${count} requests answered 503 in the minute from ${new Date(minute * 60_000).toISOString()}`,
  };
}
