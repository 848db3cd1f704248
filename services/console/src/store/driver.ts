// The event history's store, as the indexer and the query API use it. Every backend
// implements this and passes drivertest/; rows are keyed so that writing the same Kafka
// record twice changes nothing (an indexer restarted after a crash re-reads what it had
// written but not yet committed).
import type { DeadLetter, DeliveryAttempt, IngressRejection } from '@hookyard/core';

/** Where a record lives in Kafka: the idempotency key of append-only rows. */
export interface Coordinates { topic: string; partition: number; offset: string }

export interface EventRow {
  id: string;
  source: string;
  receivedAt: number;
  method: string;
  path: string;
  query: string;
  /** Credentials and signatures redacted. */
  headers: Record<string, string>;
  /** null when the body was larger than console.maxBodyBytes: fetch it from Kafka at `kafka`. */
  body: Buffer | null;
  bodySize: number;
  kafka: Coordinates;
  orderingKey: string;
  eventType: string | null;
  /** The provider's own id of the webhook (the source's dedupKey, or webhook-id / svix-id / x-github-delivery…). */
  webhookId: string | null;
  replayId: string | null;
}

export type DecisionOutcome = 'matched' | 'filtered' | 'transform_error';
/** configVersion: the config version that routed it (v7, file@<hash>); null for records from before versions. */
export interface DecisionRow { eventId: string; destination: string; outcome: DecisionOutcome; error: string | null; at: number; replayId: string | null; configVersion: string | null }

/** The router's delivery record (or a replay's): the delivery exists, nothing attempted yet. */
export interface DeliveryRecordRow { eventId: string; source: string; destination: string; receivedAt: number; at: number; replayId: string | null; kafka: Coordinates }

/** A delivery-attempts record where it lies in Kafka. */
export type AttemptRow = DeliveryAttempt & { kafka: Coordinates };

/** A dead letter without what it would have sent (the event's row has the request). */
export type DeadLetterRow = Omit<DeadLetter, 'orderingKey' | 'headers' | 'body'> & { kafka: Coordinates };

export type RejectionRow = IngressRejection & { kafka: Coordinates };

/** A destination's receipt for a delivery (the newest per delivery counts). */
export interface ReceiptRow { kafka: Coordinates; receiptId: string; eventId: string; destination: string; status: 'applied' | 'failed'; detail: string | null; at: number }

/** One indexer batch: written atomically (all or nothing). */
export interface WriteBatch {
  events: EventRow[];
  decisions: DecisionRow[];
  deliveries: DeliveryRecordRow[];
  attempts: AttemptRow[];
  deadLetters: DeadLetterRow[];
  rejections: RejectionRow[];
  receipts: ReceiptRow[];
}

export const emptyBatch = (): WriteBatch => ({ events: [], decisions: [], deliveries: [], attempts: [], deadLetters: [], rejections: [], receipts: [] });

/**
 * A delivery's state, from its latest record by time: pending (routed or replayed, not yet
 * attempted), retrying (an attempt failed and another is scheduled), delivered, dead
 * (dead-lettered: attempts exhausted, a 4xx that is not retried, or a transform error).
 * "held" (destination paused or breaker open) is not stored: the API adds it from the
 * destination's live state.
 */
export const DELIVERY_STATES = ['pending', 'retrying', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** A filter on the event history. Every field narrows; all are optional but `limit`. */
export interface EventQuery {
  from?: number;
  to?: number;
  sources?: string[];
  /** Any of these destinations' deliveries (with states: in one of them). */
  destinations?: string[];
  /** A delivery (to one of `destinations`, when given) in one of these states. */
  states?: DeliveryState[];
  /** Glob: `*` any run of characters (invoice.*). */
  eventType?: string;
  /** Any attempt answered with this HTTP status (to one of `destinations` when given). */
  status?: number;
  orderingKey?: string;
  eventId?: string;
  webhookId?: string;
  replayId?: string;
  /** Equality on a JSON path into the body (`body.data.object.customer`) or a header (`headers.x-shop`). */
  match: { path: string[]; root: 'body' | 'headers'; value: string }[];
  /** Full text over body and headers: every word must occur. */
  text?: string;
  limit: number;
  /** A delivery (to one of `destinations`, when given) by its receipt: applied, failed, none (delivered, no receipt yet), sla_missed (applied unknown). */
  receipts?: ReceiptFilter[];
  /** From a previous page's `next`. */
  cursor?: string;
}

export const RECEIPT_FILTERS = ['applied', 'failed', 'none', 'sla_missed'] as const;
export type ReceiptFilter = (typeof RECEIPT_FILTERS)[number];

/** What a delivery's receipt says: applied or failed (by the receiver), applied_unknown (its SLA passed without one). */
export type ReceiptState = 'applied' | 'failed' | 'applied_unknown';

export interface DeliverySummary { destination: string; state: DeliveryState; attempts: number; lastStatus: number | null; replayId: string | null; receipt: ReceiptState | null }

export interface EventSummary {
  id: string;
  source: string;
  receivedAt: number;
  eventType: string | null;
  orderingKey: string;
  webhookId: string | null;
  bodySize: number;
  replayId: string | null;
  deliveries: DeliverySummary[];
}

export interface Page<T> { items: T[]; next: string | null }

export interface DeliveryDetail extends DeliverySummary {
  lastError: string | null;
  lastAt: number;
  nextAttemptAt: number | null;
  receiptAt: number | null;
  receiptDetail: string | null;
}

/** One event's whole story. */
export interface Trace {
  event: EventRow | null;
  decisions: DecisionRow[];
  deliveries: DeliveryDetail[];
  attempts: AttemptRow[];
  deadLetters: DeadLetterRow[];
}

export interface CountsQuery { from: number; to: number; bucketMs: number }
export interface Counts {
  /** Events received per source per bucket (bucket = start, epoch ms). */
  received: { bucket: number; source: string; count: number }[];
  /** Deliveries by their current state, per destination, bucketed by the event's receipt. */
  deliveries: { bucket: number; source: string; destination: string; state: DeliveryState; count: number }[];
}

export interface RejectionQuery { from?: number; to?: number; sources?: string[]; limit: number; cursor?: string }

export interface StoreStats { events: number; bytes: number }

/**
 * Issues: failures grouped by what failed where — delivery (destination × HTTP status or error
 * class), transform (connection × error), refusal (source × reason, above a rate), backpressure
 * (a destination's oldest pending too old), receipts (a destination's deliveries past their SLA),
 * dead_letters (a destination's dead letters above a rate), breaker (a destination's breaker
 * open), paused (a destination paused by the deliverer, on a 410) and ingress (answering 503).
 * All but transform resolve by themselves when what they report ends (see recovery.ts).
 */
export const ISSUE_KINDS = ['delivery', 'transform', 'refusal', 'backpressure', 'receipts', 'dead_letters', 'breaker', 'paused', 'ingress'] as const;
export type IssueKind = (typeof ISSUE_KINDS)[number];
/** open → acknowledged → resolved, or ignored; a resolved issue reopens when it recurs, an ignored one does not. */
export const ISSUE_STATES = ['open', 'acknowledged', 'resolved', 'ignored'] as const;
export type IssueState = (typeof ISSUE_STATES)[number];

/** One failure seen: counted once per `occurrence` (its Kafka coordinates, say), whatever re-reads it. */
export interface IssueOccurrence {
  issueId: string;
  kind: IssueKind;
  /** What failed: a destination, a connection (source → destination), a source. */
  target: string;
  title: string;
  occurrence: string;
  eventId: string | null;
  at: number;
  sample: string;
  /** The issue exists only once this many occurrences fall within windowMs (refusals). */
  threshold?: { count: number; windowMs: number };
}

export interface IssueRow {
  id: string;
  kind: IssueKind;
  target: string;
  title: string;
  firstSeen: number;
  lastSeen: number;
  count: number;
  /** Distinct events affected. */
  events: number;
  sampleEventId: string | null;
  sample: string;
  state: IssueState;
  stateAt: number;
  stateBy: string | null;
  reopened: number;
}

/** What recordIssues changed that someone should hear about. */
export interface IssueChange { issue: IssueRow; change: 'opened' | 'reopened' }

/**
 * An issue's change kept for alerting (an outbox): written in the transaction that made the
 * change, published to Kafka later and marked, so a crash in between loses nothing. Its event
 * id is fixed at write time: a second publication is the same event (deduplicated downstream).
 */
export interface IssueChangeRecord {
  seq: number;
  issueId: string;
  change: 'opened' | 'reopened' | 'resolved';
  at: number;
  eventId: string;
  /** When the issue's newest opened or reopened alert was sent (null: none yet): how flapping is held back. */
  lastAlertAt: number | null;
}

export interface IssueQuery { states?: IssueState[]; kinds?: IssueKind[]; limit: number; cursor?: string }

/** One operator action, as the audit page shows it. */
export interface AuditEntry {
  at: number;
  user: string;
  role: string;
  /** e.g. destination.pause, delivery.retry, dlq.redrive */
  action: string;
  /** What it acted on: a destination, an event id, a window. */
  target: string;
  /** What it changed or found (counts, replay id, reason), as JSON. */
  detail: Record<string, unknown>;
}
export interface AuditRow extends AuditEntry { seq: number }

/** Upper bounds (ms) of the latency buckets of attemptStats; the last is open. */
export const LATENCY_BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, Infinity] as const;
/** Attempts per destination per time bucket (by attempt time), split by success and by latency bucket. */
export interface AttemptStat { bucket: number; destination: string; success: boolean; latencyBucket: number; count: number }
/** Deliveries that succeeded, per source and destination per time bucket (by delivery time), by end-to-end latency bucket (received → delivered). */
export interface DeliveryLatencyStat { bucket: number; source: string; destination: string; latencyBucket: number; count: number }

export interface IndexStore {
  /** Idempotent: the same rows written twice leave the store as once. Atomic per batch. */
  write(batch: WriteBatch): Promise<void>;
  searchEvents(q: EventQuery): Promise<Page<EventSummary>>;
  trace(eventId: string): Promise<Trace | null>;
  counts(q: CountsQuery): Promise<Counts>;
  rejections(q: RejectionQuery): Promise<Page<RejectionRow>>;
  /** Drops everything about events received before `before` (and refusals before it). */
  prune(before: number): Promise<{ events: number; rejections: number }>;
  /** Removes one event and its story; false when the index did not have it. */
  erase(eventId: string): Promise<boolean>;
  stats(): Promise<StoreStats>;
  /** Attempts in [from, to) by attempt time: the destinations page's success rate and latency. */
  attemptStats(q: CountsQuery): Promise<AttemptStat[]>;
  /** Successful attempts in [from, to) with their event's receipt: end-to-end latency over time. */
  deliveryLatency(q: CountsQuery): Promise<DeliveryLatencyStat[]>;
  /**
   * Marks each delivery to `destination` delivered before `before` (and since `since`) with no
   * receipt as an SLA miss, once: returns the deliveries newly marked (a second call marks none).
   */
  markSlaMisses(destination: string, since: number, before: number, now: number): Promise<{ eventId: string; destination: string }[]>;
  /** Counts occurrences into their issues (idempotent per occurrence); returns issues opened or reopened. */
  recordIssues(occurrences: IssueOccurrence[]): Promise<IssueChange[]>;
  /** Issues, most recently seen first. */
  issues(q: IssueQuery): Promise<Page<IssueRow>>;
  issue(id: string): Promise<IssueRow | null>;
  /** The newest events an issue affected. */
  issueEvents(id: string, limit: number): Promise<string[]>;
  /**
   * Acknowledge, resolve, ignore (or reopen); null when there is no such issue, or when `only`
   * is given and the issue is not in one of its states or was seen since its `lastSeen`
   * (nothing changes then: a failure recorded meanwhile keeps the issue open).
   */
  setIssueState(id: string, state: IssueState, by: string, at: number, only?: { states: IssueState[]; lastSeen?: number }): Promise<IssueRow | null>;
  /** How many of an issue's occurrences fall after `since`: whether a rate is back under its threshold. */
  issueOccurrencesSince(id: string, since: number): Promise<number>;
  /**
   * Whether `destination` worked after `since`: a delivery to it delivered (`delivered`), or a
   * receipt from it, received after `since`, saying applied (`applied`).
   */
  workedSince(destination: string, since: number, what: 'delivered' | 'applied'): Promise<boolean>;
  /** Issue changes not yet published (oldest first). */
  unpublishedIssueChanges(limit: number): Promise<IssueChangeRecord[]>;
  /** `sentAt`: when they were published; null: withdrawn unsent (a reopen and resolve that cancelled). */
  markIssueChangesPublished(seqs: number[], sentAt: number | null): Promise<void>;
  /** Appends one operator action (kept beyond the event retention). */
  recordAudit(e: AuditEntry): Promise<void>;
  /** Operator actions, newest first; the cursor is the last row's seq. */
  auditLog(q: { limit: number; cursor?: string }): Promise<Page<AuditRow>>;
  close(): Promise<void>;
}
