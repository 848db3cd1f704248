// Pure helpers every backend shares: how a body is kept, what full text indexes, how user
// input becomes a query argument (never SQL text).
import { LATENCY_BOUNDS, type DeliveryState, type IssueOccurrence } from './driver.ts';

/** Which state wins when two records carry the same time: the later stage. */
export const STATE_RANK: Record<DeliveryState, number> = { pending: 0, retrying: 1, delivered: 2, dead: 2 };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A body as text when it is UTF-8 (searchable; JSON paths when it parses), else as bytes. */
export function bodyColumns(body: Buffer | null): { text: string | null; bin: Buffer | null; isJson: boolean } {
  if (body === null) return { text: null, bin: null, isJson: false };
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { text: null, bin: body, isJson: false };
  }
  if (text.includes('\u0000')) return { text: null, bin: body, isJson: false };
  let isJson = false;
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      JSON.parse(text);
      isJson = true;
    } catch { /* text, not JSON */ }
  }
  return { text, bin: null, isJson };
}

/** What full text covers: header values and the body's text. */
export function ftsText(headers: Record<string, string>, bodyText: string | null): string {
  return `${Object.values(headers).join(' ')}\n${bodyText ?? ''}`;
}

/**
 * User text as an FTS5 query: every word must occur, each quoted so that nothing the user
 * types is FTS syntax (AND, NEAR, *, column filters). null when no word remains.
 */
export function ftsQuery(text: string): string | null {
  const words = text.split(/\s+/).map((w) => w.trim()).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return null;
  return words.map((w) => `"${w.replaceAll('"', '""')}"`).join(' ');
}

/** A glob (`*` any run of characters) as a LIKE pattern with `\` escaping. */
export function globToLike(glob: string): string {
  return glob.replace(/[\\%_]/g, (c) => `\\${c}`).replaceAll('*', '%');
}

/** Path segments as a SQLite/JSON path argument: $."data"."object"."customer", [n] for digits. */
export function jsonPathOf(segments: readonly string[]): string {
  return `$${segments.map((s) => (/^\d+$/.test(s) ? `[${s}]` : `."${s.replaceAll('"', '')}"`)).join('')}`;
}

/** The smallest UUIDv7 text of a time: every event id received before `ms` sorts below it. */
export function idBoundary(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}

/** The creation time in a UUIDv7 event id (ms), or `fallback` for anything else. */
export function idTime(eventId: string, fallback: number): number {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7/i.test(eventId)) return fallback;
  return parseInt(eventId.slice(0, 8) + eventId.slice(9, 13), 16);
}

/** One change to a delivery's row, as every record kind makes it. */
export interface DeliveryUpdate {
  eventId: string;
  destination: string;
  source: string;
  receivedAt: number;
  state: DeliveryState;
  stateAt: number;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt: number | null;
  replayId: string | null;
}

/** Whether `u` is newer than (or as new as, and a later stage than) the row's state. */
export function supersedes(u: { stateAt: number; state: DeliveryState }, cur: { stateAt: number; state: DeliveryState }): boolean {
  return u.stateAt > cur.stateAt || (u.stateAt === cur.stateAt && STATE_RANK[u.state] >= STATE_RANK[cur.state]);
}

/**
 * Several updates of one delivery in one batch folded into one, by the same rule the
 * stores apply against the stored row (a backend whose upsert may touch a row once per
 * statement needs this).
 */
export function foldDeliveryUpdates(updates: readonly DeliveryUpdate[]): DeliveryUpdate[] {
  const out = new Map<string, DeliveryUpdate>();
  for (const u of updates) {
    const k = `${u.eventId}\u0000${u.destination}`;
    const cur = out.get(k);
    if (!cur) {
      out.set(k, { ...u });
      continue;
    }
    const newer = supersedes(u, cur);
    const win = newer ? u : cur;
    out.set(k, {
      ...win,
      source: cur.source !== '' ? cur.source : u.source,
      receivedAt: cur.source !== '' ? cur.receivedAt : u.source !== '' ? u.receivedAt : cur.receivedAt,
      attempts: Math.max(cur.attempts, u.attempts),
      lastStatus: newer ? (u.lastStatus ?? (u.state === 'pending' ? cur.lastStatus : null)) : cur.lastStatus,
      lastError: newer ? (u.lastError ?? (u.state === 'pending' ? cur.lastError : null)) : cur.lastError,
      replayId: newer ? (u.replayId ?? cur.replayId) : cur.replayId,
      stateAt: Math.max(cur.stateAt, u.stateAt),
    });
  }
  return [...out.values()];
}

/** SQL for the index of a latency in LATENCY_BOUNDS (the same text on every backend; constants only). */
export const latencyBucketSql = (expr: string) => `CASE ${LATENCY_BOUNDS.slice(0, -1).map((b, i) => `WHEN ${expr} < ${b} THEN ${i}`).join(' ')} ELSE ${LATENCY_BOUNDS.length - 1} END`;
export const LATENCY_BUCKET_SQL = latencyBucketSql('latency_ms');

/** Occurrences by issue, in order: each issue is updated once per batch. */
export function byIssue(occurrences: IssueOccurrence[]): IssueOccurrence[][] {
  const m = new Map<string, IssueOccurrence[]>();
  for (const o of occurrences) {
    const list = m.get(o.issueId) ?? [];
    list.push(o);
    m.set(o.issueId, list);
  }
  return [...m.values()];
}
