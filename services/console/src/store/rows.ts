// Stored rows back to the driver's types: both backends name their columns alike (their
// types differ — integer or boolean flags, JSON as text or jsonb, BLOB or bytea — and are
// read here so either fits).
import type { AttemptRow, AuditRow, IssueKind, IssueRow, IssueState, DeadLetterRow, DecisionRow, DeliveryDetail, DeliveryState, EventRow, RejectionRow } from './driver.ts';

export type Row = Record<string, unknown>;
export const str = (v: unknown): string => String(v);
export const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
export const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const json = (v: unknown): Record<string, string> => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, string>;
const optJson = (v: unknown): Record<string, string> | null => (v === null || v === undefined ? null : json(v));
const coords = (r: Row) => ({ topic: str(r.topic), partition: Number(r.partition), offset: str(r.offset) });

export const toDelivery = (r: Row): DeliveryDetail => ({
  destination: str(r.destination), state: str(r.state) as DeliveryState, attempts: Number(r.attempts), lastStatus: optNum(r.last_status), replayId: optStr(r.replay_id),
  lastError: optStr(r.last_error), lastAt: Number(r.state_at), nextAttemptAt: optNum(r.next_attempt_at),
  receipt: r.receipt_status === 'applied' || r.receipt_status === 'failed' ? r.receipt_status : r.sla_missed_at !== null && r.sla_missed_at !== undefined ? 'applied_unknown' : null,
  receiptAt: optNum(r.receipt_at), receiptDetail: optStr(r.receipt_detail),
});

export const toDecision = (r: Row): DecisionRow => ({
  eventId: str(r.event_id), destination: str(r.destination), outcome: str(r.outcome) as DecisionRow['outcome'], error: optStr(r.error), at: Number(r.at), replayId: optStr(r.replay_id),
  configVersion: optStr(r.config_version),
});

export const toAttempt = (r: Row): AttemptRow => ({
  kafka: coords(r), eventId: str(r.event_id), destination: str(r.destination), attempt: Number(r.attempt), at: Number(r.at), status: optNum(r.status),
  outcome: str(r.outcome) as AttemptRow['outcome'], latencyMs: Number(r.latency_ms), error: optStr(r.error), responseSnippet: str(r.response_snippet), nextAttemptAt: optNum(r.next_attempt_at),
  requestHeaders: optJson(r.request_headers),
});

export const toDeadLetter = (r: Row): DeadLetterRow => ({
  kafka: coords(r), eventId: str(r.event_id), source: str(r.source), destination: str(r.destination), receivedAt: Number(r.received_at), stage: str(r.stage) as DeadLetterRow['stage'],
  attempts: Number(r.attempts), lastStatus: optNum(r.last_status), lastError: str(r.last_error), deadAt: Number(r.dead_at), replayId: optStr(r.replay_id),
});

export const toRejection = (r: Row): RejectionRow => ({
  kafka: coords(r), source: str(r.source), receivedAt: Number(r.received_at), status: Number(r.status), code: str(r.code), reason: str(r.reason), method: str(r.method),
  path: str(r.path), remoteIp: str(r.remote_ip), headers: json(r.headers), bodySize: Number(r.body_size), bodySha256: optStr(r.body_sha256),
});

export const toEvent = (e: Row): EventRow => ({
  id: str(e.id), source: str(e.source), receivedAt: Number(e.received_at), method: str(e.method), path: str(e.path), query: str(e.query), headers: json(e.headers),
  body: Number(e.body_stored) === 1 ? (e.body_text !== null ? Buffer.from(str(e.body_text), 'utf8') : Buffer.from(e.body_bin as Uint8Array)) : null,
  bodySize: Number(e.body_size), kafka: { topic: str(e.kafka_topic), partition: Number(e.kafka_partition), offset: str(e.kafka_offset) },
  orderingKey: str(e.ordering_key), eventType: optStr(e.event_type), webhookId: optStr(e.webhook_id), replayId: optStr(e.replay_id),
});

export const toAudit = (r: Row): AuditRow => ({
  seq: Number(r.seq), at: Number(r.at), user: str(r.user), role: str(r.role), action: str(r.action), target: str(r.target),
  detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as Record<string, unknown>,
});

export const toIssue = (r: Row): IssueRow => ({
  id: str(r.id), kind: str(r.kind) as IssueKind, target: str(r.target), title: str(r.title), firstSeen: Number(r.first_seen), lastSeen: Number(r.last_seen),
  count: Number(r.count), events: Number(r.events ?? 0), sampleEventId: optStr(r.sample_event_id), sample: str(r.sample), state: str(r.state) as IssueState,
  stateAt: Number(r.state_at), stateBy: optStr(r.state_by), reopened: Number(r.reopened),
});
