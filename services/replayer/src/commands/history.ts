// hookyard events search | show (from the index) | erase: the event history through the
// console's API. `show` falls back to reading Kafka when the index cannot answer.
import { ConsoleUnavailable, type ConsoleClient } from '../console-client.ts';
import { isUtf8 } from 'node:buffer';
import type { CliContext, Output } from '../context.ts';
import type { RawEvent } from '@hookyard/core';
import { scan } from '../scan.ts';
import { CommandFailed, UsageError } from '../errors.ts';

interface ApiError { error?: { code?: string; message?: string } }
interface SearchItem {
  id: string; source: string; receivedAt: string; eventType: string | null; orderingKey: string; bodySize: number; replayId: string | null;
  deliveries: { destination: string; state: string; attempts: number; lastStatus: number | null; receipt?: string | null }[];
}
interface SearchPage { items: SearchItem[]; next: string | null; index?: { totalLag: number | null } }

/** An API answer that is not 2xx: a 400 is the user's input (exit 2), anything else a failure. */
function refuse(status: number, body: unknown): never {
  const msg = (body as ApiError)?.error?.message ?? `HTTP ${status}`;
  if (status === 400) throw new UsageError(msg);
  throw new Error(`the console answered ${status}: ${msg}`);
}

export function formatItem(i: SearchItem): string {
  const ds = i.deliveries.map((d) => `${d.destination} ${d.state}${d.attempts > 0 ? ` (${d.attempts}${d.lastStatus !== null ? `, ${d.lastStatus}` : ''})` : ''}${d.receipt ? ` receipt ${d.receipt}` : ''}`).join(', ');
  return `${i.receivedAt}  ${i.id}  ${i.source}${i.eventType ? `  ${i.eventType}` : ''}  ${i.bodySize} B  ${ds || 'no deliveries'}${i.replayId ? `  replay ${i.replayId}` : ''}`;
}

export async function searchEvents(client: ConsoleClient, o: { params: URLSearchParams; all: boolean; json: boolean }, out: Output): Promise<number> {
  let shown = 0;
  let cursor: string | null = null;
  let lag: number | null | undefined;
  do {
    const params = new URLSearchParams(o.params);
    if (cursor) params.set('cursor', cursor);
    const { status, body } = await client.get('/api/v1/events', params);
    if (status !== 200) refuse(status, body);
    const page = body as SearchPage;
    for (const i of page.items) out.line(o.json ? JSON.stringify(i) : formatItem(i));
    shown += page.items.length;
    lag = page.index?.totalLag;
    cursor = page.next;
    if (cursor && !o.all) out.note('more events: --all for every page');
  } while (cursor && o.all);
  out.note(`${shown} event(s)${lag ? `; the index is ${lag} record(s) behind Kafka` : ''}`);
  return shown;
}

export interface IndexedTrace {
  event: { id: string; source: string; receivedAt: string; method: string; path: string; query: string; headers: Record<string, string>; body: string | null; bodyEncoding: string | null; bodySize: number; bodyStored: boolean; bodyFrom?: 'kafka'; kafka: { topic: string; partition: number; offset: string }; orderingKey: string; eventType: string | null; webhookId: string | null; replayId: string | null } | null;
  decisions: { destination: string; outcome: string; error: string | null; at: string; configVersion?: string | null }[];
  deliveries: { destination: string; state: string; attempts: number; lastStatus: number | null; lastError: string | null; nextAttemptAt: string | null; replayId: string | null; receipt?: string | null; receiptDetail?: string | null; hold?: { paused: { reason: string } | null; breaker: { state: string } | null } }[];
  attempts: { destination: string; attempt: number; at: string; status: number | null; outcome: string; latencyMs: number; error: string | null; responseSnippet: string; nextAttemptAt: string | null; requestHeaders?: Record<string, string> | null }[];
  deadLetters: { destination: string; stage: string; lastError: string; deadAt: string }[];
}

/** The index's trace of one event, or null when the index does not have it (or cannot be asked: `why`). */
export async function traceFromIndex(client: ConsoleClient, id: string): Promise<{ trace: IndexedTrace | null; why: string }> {
  try {
    const { status, body } = await client.get(`/api/v1/events/${encodeURIComponent(id)}`);
    if (status === 200) return { trace: body as IndexedTrace, why: '' };
    if (status === 404) return { trace: null, why: (body as ApiError)?.error?.message ?? 'not in the index' };
    refuse(status, body);
  } catch (err) {
    if (err instanceof ConsoleUnavailable) return { trace: null, why: err.message };
    throw err;
  }
}

/**
 * One event's body read from raw-events at the coordinates the index kept (the index keeps
 * no body over console.maxBodyBytes); null when Kafka no longer has that record, or it is
 * not this event.
 */
export async function bodyFromKafka(ctx: CliContext, at: { topic: string; partition: number; offset: string }, id: string): Promise<{ body: string; bodyEncoding: 'utf8' | 'base64' } | null> {
  const admin = await ctx.admin();
  const offset = Number(at.offset);
  const bounds = (await admin.fetchTopicOffsets(at.topic)).find((b) => b.partition === at.partition);
  if (!bounds || offset < Number(bounds.low) || offset >= Number(bounds.high)) return null;
  const found: Buffer[] = [];
  await scan(ctx.kafka, at.topic, [{ partition: at.partition, start: offset, end: offset + 1 }], async (_p, messages) => {
    for (const m of messages) {
      if (Number(m.offset) !== offset || !m.value) continue;
      const e = await ctx.codec.decode<RawEvent>(m.value);
      if (e.id === id) found.push(Buffer.from(e.body));
    }
  });
  const b = found[0];
  if (b === undefined) return null;
  const encoding = isUtf8(b) ? 'utf8' : 'base64';
  return { body: b.toString(encoding), bodyEncoding: encoding };
}

export function formatTrace(t: IndexedTrace): string[] {
  const e = t.event;
  const lines: string[] = [];
  if (e) {
    lines.push(`event ${e.id}  source ${e.source}  received ${e.receivedAt}${e.eventType ? `  type ${e.eventType}` : ''}${e.webhookId ? `  webhook id ${e.webhookId}` : ''}`);
    lines.push(`${e.method} ${e.path}${e.query ? `?${e.query}` : ''}  ordering key ${e.orderingKey}${e.replayId ? `  replay ${e.replayId}` : ''}`);
    lines.push(...Object.entries(e.headers).map(([k, v]) => `  ${k}: ${v}`), '');
    if (e.bodyFrom === 'kafka') lines.push(`(body of ${e.bodySize} B, over the index's limit: read from Kafka at ${e.kafka.topic}/${e.kafka.partition}@${e.kafka.offset})`);
    lines.push(e.body === null ? `(body of ${e.bodySize} B not kept in the index)` : e.bodyEncoding === 'utf8' ? e.body : `(binary, base64) ${e.body}`, '');
  } else {
    lines.push('(the event itself is not in the index; its routing and deliveries are)', '');
  }
  const versions = [...new Set(t.decisions.map((d) => d.configVersion).filter(Boolean))];
  lines.push(t.decisions.length === 0 ? 'routing: no decision recorded' : `routing${versions.length > 0 ? ` (config ${versions.join(', ')})` : ''}:`);
  for (const d of t.decisions) lines.push(`  ${d.destination}  ${d.outcome}${d.error ? `  ${d.error}` : ''}`);
  lines.push(t.deliveries.length === 0 ? 'deliveries: none' : 'deliveries:');
  for (const d of t.deliveries) {
    const hold = d.hold ? `  (${[d.hold.paused ? `paused: ${d.hold.paused.reason}` : '', d.hold.breaker ? `breaker ${d.hold.breaker.state}` : ''].filter(Boolean).join(', ')})` : '';
    lines.push(`  ${d.destination}  ${d.state}${hold}  ${d.attempts} attempt(s)${d.lastStatus !== null ? `  last status ${d.lastStatus}` : ''}${d.lastError ? `  ${d.lastError}` : ''}${d.nextAttemptAt ? `  next ${d.nextAttemptAt}` : ''}${d.replayId ? `  replay ${d.replayId}` : ''}${d.receipt ? `  receipt ${d.receipt}${d.receiptDetail ? ` (${d.receiptDetail})` : ''}` : ''}`);
  }
  if (t.attempts.length > 0) lines.push('attempts:');
  for (const a of t.attempts) lines.push(`  ${a.destination}  #${a.attempt}  ${a.at}  ${a.outcome}  status ${a.status ?? '-'}  ${Math.round(a.latencyMs)} ms${a.error ? `  ${a.error}` : ''}${a.nextAttemptAt ? `  next ${a.nextAttemptAt}` : ''}`);
  for (const d of t.deadLetters) lines.push(`dead letter: ${d.destination}  ${d.stage}  ${d.deadAt}  ${d.lastError}`);
  return lines;
}

export async function eraseEvent(client: ConsoleClient, id: string): Promise<{ erased: string; kafka: string }> {
  const { status, body } = await client.delete(`/api/v1/events/${encodeURIComponent(id)}`);
  if (status === 404) throw new CommandFailed(new Error(`event ${id} is not in the index`), 'nothing erased');
  if (status !== 200) refuse(status, body);
  return body as { erased: string; kafka: string };
}
