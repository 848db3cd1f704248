// The query API's parameters → store queries. Everything the user sends is checked here,
// with a message that says which parameter and what was expected; nothing reaches a store
// but typed values.
import { DELIVERY_STATES, ISSUE_KINDS, ISSUE_STATES, RECEIPT_FILTERS, type IssueKind, type IssueQuery, type IssueState, type CountsQuery, type DeliveryState, type EventQuery, type ReceiptFilter, type RejectionQuery } from '../store/driver.ts';

export class BadQuery extends Error {
  readonly status = 400;
  readonly code = 'bad_query';
  readonly param: string;
  constructor(param: string, message: string) {
    super(`${param}: ${message}`);
    this.param = param;
  }
}

export type Params = Record<string, string | string[] | undefined>;

/** "held" is a live state (destination paused or breaker open) the API adds, not a stored one. */
export const QUERY_STATES = [...DELIVERY_STATES, 'held'] as const;
export type QueryState = (typeof QUERY_STATES)[number];

const EVENT_PARAMS = ['from', 'to', 'source', 'destination', 'state', 'receipt', 'eventType', 'status', 'orderingKey', 'eventId', 'webhookId', 'replayId', 'q', 'match', 'limit', 'cursor'] as const;
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SEGMENT = /^[A-Za-z0-9_$@:-]{1,128}$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function only(params: Params, known: readonly string[]): void {
  for (const k of Object.keys(params)) {
    if (!known.includes(k)) throw new BadQuery(k, `unknown parameter (known: ${known.join(', ')})`);
  }
}

function one(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length > 1) throw new BadQuery(name, 'give it once');
    return v[0];
  }
  return v;
}

function many(params: Params, name: string): string[] {
  const v = params[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
}

/** ISO 8601, epoch milliseconds, or a time ago (90m, 2h, 7d); `now`. */
export function parseTime(name: string, text: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  if (/^\d{13}$/.test(t)) return Number(t);
  const rel = /^(\d+)(ms|s|m|h|d|w)$/.exec(t);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]!]!;
  if (ISO.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new BadQuery(name, `"${text}" is not a time (ISO 8601 such as 2026-12-07T10:00:00Z, epoch ms, or 90m / 2h / 7d ago, or now)`);
}

function window(params: Params, now: number): { from?: number; to?: number } {
  const f = one(params, 'from');
  const t = one(params, 'to');
  const from = f === undefined ? undefined : parseTime('from', f, now);
  const to = t === undefined ? undefined : parseTime('to', t, now);
  if (from !== undefined && to !== undefined && to <= from) throw new BadQuery('to', 'must be after from');
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}

function name(params: Params, p: string): string | undefined {
  const v = one(params, p);
  if (v !== undefined && !NAME.test(v)) throw new BadQuery(p, `"${v}" is not a name (lowercase letters, digits, - or _)`);
  return v;
}

function limit(params: Params): number {
  const v = one(params, 'limit');
  if (v === undefined) return 50;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 500) throw new BadQuery('limit', 'must be a whole number from 1 to 500');
  return Number(v);
}

/** `body.data.object.customer=cus_123` or `headers.x-shop=acme`. */
export function parseMatch(text: string): EventQuery['match'][number] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new BadQuery('match', `"${text}" is not path=value (e.g. body.data.object.customer=cus_123)`);
  const path = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const [root, ...segments] = path.split('.');
  if (root !== 'body' && root !== 'headers') throw new BadQuery('match', `"${path}" must start with body. or headers.`);
  if (segments.length === 0 || segments.length > 16 || !segments.every((s) => SEGMENT.test(s))) {
    throw new BadQuery('match', `"${path}" is not a path (dot-separated names of letters, digits, _ - $ @ :; array positions as numbers)`);
  }
  if (root === 'headers' && segments.length !== 1) throw new BadQuery('match', `"${path}": a header is one name (headers.x-shop)`);
  return { root, path: root === 'headers' ? [segments[0]!.toLowerCase()] : segments, value };
}

export interface ParsedEventQuery { query: EventQuery; state: QueryState | undefined }

export function parseEventQuery(params: Params, now = Date.now()): ParsedEventQuery {
  only(params, EVENT_PARAMS);
  const sources = many(params, 'source');
  for (const s of sources) if (!NAME.test(s)) throw new BadQuery('source', `"${s}" is not a name`);
  const state = one(params, 'state');
  if (state !== undefined && !(QUERY_STATES as readonly string[]).includes(state)) throw new BadQuery('state', `"${state}" is not one of ${QUERY_STATES.join(', ')}`);
  const receipts = many(params, 'receipt');
  for (const r of receipts) if (!(RECEIPT_FILTERS as readonly string[]).includes(r)) throw new BadQuery('receipt', `"${r}" is not one of ${RECEIPT_FILTERS.join(', ')}`);
  const status = one(params, 'status');
  if (status !== undefined && (!/^\d{3}$/.test(status) || Number(status) < 100 || Number(status) > 599)) throw new BadQuery('status', 'must be an HTTP status (100–599)');
  const eventType = one(params, 'eventType');
  if (eventType !== undefined && (eventType === '' || eventType.length > 200)) throw new BadQuery('eventType', 'must be 1–200 characters (* matches any run)');
  const eventId = one(params, 'eventId');
  if (eventId !== undefined && !UUID.test(eventId)) throw new BadQuery('eventId', `"${eventId}" is not an event id (a UUID)`);
  const cursor = one(params, 'cursor');
  if (cursor !== undefined && !UUID.test(cursor)) throw new BadQuery('cursor', 'is not a cursor from a previous page');
  const text = one(params, 'q');
  if (text !== undefined && text.length > 500) throw new BadQuery('q', 'at most 500 characters');
  const plain = (p: string, max = 500) => {
    const v = one(params, p);
    if (v !== undefined && (v === '' || v.length > max)) throw new BadQuery(p, `must be 1–${max} characters`);
    return v;
  };
  const orderingKey = plain('orderingKey');
  const webhookId = plain('webhookId');
  const replayId = plain('replayId', 100);
  const destination = name(params, 'destination');
  const query: EventQuery = {
    ...window(params, now),
    ...(sources.length > 0 ? { sources } : {}),
    ...(destination !== undefined ? { destinations: [destination] } : {}),
    ...(state !== undefined && state !== 'held' ? { states: [state as DeliveryState] } : {}),
    ...(receipts.length > 0 ? { receipts: receipts as ReceiptFilter[] } : {}),
    ...(eventType !== undefined ? { eventType } : {}),
    ...(status !== undefined ? { status: Number(status) } : {}),
    ...(orderingKey !== undefined ? { orderingKey } : {}),
    ...(eventId !== undefined ? { eventId } : {}),
    ...(webhookId !== undefined ? { webhookId } : {}),
    ...(replayId !== undefined ? { replayId } : {}),
    ...(text !== undefined && text.trim() !== '' ? { text } : {}),
    match: many(params, 'match').length > 0 ? (Array.isArray(params.match) ? params.match : [params.match!]).map(parseMatch) : [],
    limit: limit(params),
    ...(cursor !== undefined ? { cursor } : {}),
  };
  return { query, state: state as QueryState | undefined };
}

export function parseEventId(id: string): string {
  if (!UUID.test(id)) throw new BadQuery('id', `"${id}" is not an event id (a UUID)`);
  return id;
}

const BUCKETS: Record<string, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '6h': 21_600_000, '1d': 86_400_000 };

export function parseCountsQuery(params: Params, now = Date.now()): CountsQuery {
  only(params, ['from', 'to', 'bucket']);
  const w = window(params, now);
  const from = w.from ?? now - 86_400_000;
  const to = w.to ?? now;
  const b = one(params, 'bucket') ?? '1h';
  const bucketMs = BUCKETS[b];
  if (bucketMs === undefined) throw new BadQuery('bucket', `"${b}" is not one of ${Object.keys(BUCKETS).join(', ')}`);
  if ((to - from) / bucketMs > 2000) throw new BadQuery('bucket', 'too many buckets for this window (at most 2,000): choose a larger bucket');
  return { from, to, bucketMs };
}

export function parseRejectionQuery(params: Params, now = Date.now()): RejectionQuery {
  only(params, ['from', 'to', 'source', 'limit', 'cursor']);
  const sources = many(params, 'source');
  for (const s of sources) if (!NAME.test(s)) throw new BadQuery('source', `"${s}" is not a name`);
  const cursor = one(params, 'cursor');
  if (cursor !== undefined && !/^[A-Za-z0-9_-]{1,300}$/.test(cursor)) throw new BadQuery('cursor', 'is not a cursor from a previous page');
  return { ...window(params, now), ...(sources.length > 0 ? { sources } : {}), limit: limit(params), ...(cursor !== undefined ? { cursor } : {}) };
}

export function parseIssueQuery(params: Params): IssueQuery {
  only(params, ['state', 'kind', 'limit', 'cursor']);
  const states = many(params, 'state');
  for (const x of states) if (!(ISSUE_STATES as readonly string[]).includes(x)) throw new BadQuery('state', `"${x}" is not one of ${ISSUE_STATES.join(', ')}`);
  const kinds = many(params, 'kind');
  for (const x of kinds) if (!(ISSUE_KINDS as readonly string[]).includes(x)) throw new BadQuery('kind', `"${x}" is not one of ${ISSUE_KINDS.join(', ')}`);
  const cursor = one(params, 'cursor');
  if (cursor !== undefined && !/^\d{1,16}\.[0-9a-f]{1,64}$/.test(cursor)) throw new BadQuery('cursor', 'is not a cursor from a previous page');
  return { ...(states.length ? { states: states as IssueState[] } : {}), ...(kinds.length ? { kinds: kinds as IssueKind[] } : {}), limit: limit(params), ...(cursor !== undefined ? { cursor } : {}) };
}

export function parseIssueId(id: string): string {
  if (!/^[0-9a-f]{20}$/.test(id)) throw new BadQuery('id', `"${id}" is not an issue id`);
  return id;
}
