// hookyard events list | show: what arrived (or was refused, and why), and for one event
// every delivery attempt. An event id embeds its receive time, so `show` reads a minute
// of raw-events around it and only the delivery-attempts partition its key maps to.
import { eventIdTime, fastDefaultPartitioner, isPoisonRecord, type DeliveryAttempt, type IngressRejection, type RawEvent } from '@hookyard/core';
import type { CliContext } from '../context.ts';
import { CommandFailed, UsageError } from '../errors.ts';
import { progress } from '../progress.ts';
import { planScan, rangeSize, scan } from '../scan.ts';
import { iso, parseWindow } from '../time.ts';

export const EVENTS_HELP = `Usage: hookyard events search [filters] [--limit N] [--all] [--json]
       hookyard events show <event id> [--json]
       hookyard events erase <event id> | --event-id <id> [--json]
       hookyard events list --from <time> [--to <time>] [--source S] [--rejected] [--json]

search the event history (the console's index; newest first): every filter narrows.
       --from/--to, --source S (repeatable), --destination D, --state pending|retrying|
       delivered|dead|held, --receipt applied|failed|none|sla_missed (outcome receipts;
       none: delivered, not applied yet), --type 'invoice.*', --status 500, --key <ordering key>,
       --event-id ID, --webhook-id ID, --replay-id ID, --match body.data.object.customer=cus_123
       (repeatable; headers.x-shop=acme too), --q 'words in the body or headers'.
show   one event's whole story from the index: headers, body, each connection's decision,
       each destination's state and attempts. Without the index (console not running, or
       the event not indexed yet): headers, body and attempts read from Kafka.
erase  remove one event and its story from the index (Kafka keeps it until its own retention).

list   the events received in [--from, --to): time, id, source, method, path, size.
       With --rejected: the requests ingress refused (ingress-rejections), with the
       status and the reason — "was the signature valid, and why not?".
show   one event: its headers and body, and every delivery attempt per destination
       (status, latency, error).

Options:
  --from / --to <time>  ISO 8601, or 90m / 2h / 3d ago, or now (--to defaults to now)
  --source <name>       only this source (repeatable)
  --rejected            refusals instead of accepted events
  --limit N             search: events per page (default 50, at most 500)
  --all                 search: every page, not only the first
  --json                one JSON object per line (list, search) or one object (show)
  --help                this text

Environment: HOOKYARD_CONSOLE_URL (http://127.0.0.1:8090), HOOKYARD_API_TOKEN (default: the
config's first console.apiTokens entry).

Examples:
  hookyard events search --from 1d --destination billing --state dead --type 'invoice.*' --q cus_123
  hookyard events search --state retrying --json
  hookyard events erase 01937d3e-5a1c-7c2e-9f00-3b2a1c0d4e5f
  hookyard events list --from 1h --source stripe
  hookyard events list --from 30m --rejected
  hookyard events show 01937d3e-5a1c-7c2e-9f00-3b2a1c0d4e5f`;

export const EVENTS_OPTIONS = {
  from: { type: 'string' }, to: { type: 'string' }, source: { type: 'string', multiple: true }, rejected: { type: 'boolean' },
  destination: { type: 'string' }, state: { type: 'string' }, receipt: { type: 'string' }, type: { type: 'string' }, status: { type: 'string' }, key: { type: 'string' },
  'event-id': { type: 'string' }, 'webhook-id': { type: 'string' }, 'replay-id': { type: 'string' }, match: { type: 'string', multiple: true }, q: { type: 'string' },
  limit: { type: 'string' }, all: { type: 'boolean' },
  json: { type: 'boolean' }, help: { type: 'boolean' },
} as const;

/** CLI flag → API parameter (search). */
const SEARCH_FLAGS: Record<string, string> = {
  from: 'from', to: 'to', source: 'source', destination: 'destination', state: 'state', receipt: 'receipt', type: 'eventType', status: 'status', key: 'orderingKey',
  'event-id': 'eventId', 'webhook-id': 'webhookId', 'replay-id': 'replayId', match: 'match', q: 'q', limit: 'limit',
};

export type EventsOptions =
  | { action: 'list'; from: number; to: number; sources: string[]; rejected: boolean; json: boolean }
  | { action: 'show'; id: string; at: number; json: boolean }
  | { action: 'search'; params: URLSearchParams; all: boolean; json: boolean }
  | { action: 'erase'; id: string; json: boolean };

const SLACK_MS = 60_000;

export function eventsOptions(positionals: string[], v: { [K in keyof typeof EVENTS_OPTIONS]?: unknown }, ctx: Pick<CliContext, 'config'>, now = Date.now()): EventsOptions {
  const [action] = positionals;
  let id = positionals[1];
  if (action === 'show') {
    if (!id) throw new UsageError('events show: give an event id');
    const at = eventIdTime(id);
    if (at === undefined) throw new UsageError(`"${id}" is not a hookyard event id (UUIDv7)`);
    return { action, id, at, json: Boolean(v.json) };
  }
  if (action === 'erase') {
    // `erase <id>` or `erase --event-id <id>` (the search filter's flag names the same thing).
    const flag = v['event-id'] as string | undefined;
    if (id !== undefined && flag !== undefined && id !== flag) throw new UsageError('events erase: give one event id (as an argument or --event-id), not two');
    id ??= flag;
    if (!id) throw new UsageError('events erase: give an event id');
    if (eventIdTime(id) === undefined) throw new UsageError(`"${id}" is not a hookyard event id (UUIDv7)`);
    return { action, id, json: Boolean(v.json) };
  }
  if (action === 'search') {
    if (id !== undefined) throw new UsageError(`unexpected argument "${id}" (filters are flags: --q for words)`);
    if (v.rejected) throw new UsageError('--rejected is for events list');
    const params = new URLSearchParams();
    for (const [flag, param] of Object.entries(SEARCH_FLAGS)) {
      const value = (v as Record<string, unknown>)[flag];
      if (value === undefined) continue;
      for (const x of Array.isArray(value) ? value : [value]) params.append(param, String(x));
    }
    return { action, params, all: Boolean(v.all), json: Boolean(v.json) };
  }
  if (action !== 'list') throw new UsageError(`events: expected "search", "show", "erase" or "list"${action ? `, not "${action}"` : ''}`);
  const sources = (v.source as string[] | undefined) ?? [];
  const known = new Set(ctx.config.sources.map((s) => s.name));
  for (const s of sources) if (!known.has(s)) throw new UsageError(`--source: unknown source "${s}" (configured: ${[...known].join(', ')})`);
  return { action, sources, rejected: Boolean(v.rejected), json: Boolean(v.json), ...parseWindow(v.from as string | undefined, v.to as string | undefined, { required: true, now }) };
}

/** Text bodies as text, anything else as base64. */
function bodyText(body: Buffer): { encoding: 'utf8' | 'base64'; text: string } {
  const text = body.toString('utf8');
  // eslint-disable-next-line no-control-regex
  return Buffer.from(text, 'utf8').equals(body) && !/[\u0000-\u0008\u000e-\u001f]/.test(text) ? { encoding: 'utf8', text } : { encoding: 'base64', text: body.toString('base64') };
}

export async function listEvents(ctx: CliContext, o: Extract<EventsOptions, { action: 'list' }>): Promise<{ scanned: number; matched: number }> {
  const s = { scanned: 0, matched: 0 };
  const sources = new Set(o.sources);
  const topic = o.rejected ? ctx.topics.rejections : ctx.topics.rawEvents;
  const ranges = await planScan(await ctx.admin(), topic, o.from, o.to, SLACK_MS);
  const bar = progress('events', !o.json);
  bar.start(rangeSize(ranges));
  try {
    await scan(ctx.kafka, topic, ranges, async (_p, messages) => {
      for (const m of messages) {
        s.scanned++;
        let v: RawEvent | IngressRejection;
        try {
          v = await ctx.codec.decode<RawEvent | IngressRejection>(m.value!);
        } catch (err) {
          if (!isPoisonRecord(err)) throw err;
          continue;
        }
        if (v.receivedAt < o.from || v.receivedAt >= o.to || (sources.size > 0 && !sources.has(v.source))) continue;
        s.matched++;
        if (o.rejected) {
          const r = v as IngressRejection;
          ctx.out.line(o.json ? JSON.stringify({ ...r, receivedAt: iso(r.receivedAt) })
            : `${iso(r.receivedAt)}  ${r.source}  ${r.status} ${r.code}  ${r.method} ${r.path}  from ${r.remoteIp}  ${r.bodySize} B  ${r.reason}`);
        } else {
          const e = v as RawEvent;
          ctx.out.line(o.json ? JSON.stringify({ id: e.id, source: e.source, receivedAt: iso(e.receivedAt), method: e.method, path: e.path, bodyBytes: e.body.length, orderingKey: e.orderingKey, replayId: e.replayId })
            : `${iso(e.receivedAt)}  ${e.id}  ${e.source}  ${e.method} ${e.path}  ${e.body.length} B`);
        }
      }
    }, (n) => bar.increment(n));
  } catch (err) {
    throw new CommandFailed(err, `${s.matched} listed of ${s.scanned} scanned`);
  } finally {
    bar.stop();
  }
  return s;
}

export interface ShownEvent {
  event: RawEvent | null;
  attempts: DeliveryAttempt[];
}

export async function showEvent(ctx: CliContext, o: Extract<EventsOptions, { action: 'show' }>): Promise<ShownEvent> {
  const admin = await ctx.admin();
  const shown: ShownEvent = { event: null, attempts: [] };
  await scan(ctx.kafka, ctx.topics.rawEvents, await planScan(admin, ctx.topics.rawEvents, o.at, o.at + 1, SLACK_MS), async (_p, messages) => {
    for (const m of messages) {
      const e = await ctx.codec.decode<RawEvent>(m.value!).catch(() => null);
      // The original, not a replayed copy (those carry a replay id).
      if (e?.id === o.id && (!shown.event || shown.event.replayId)) shown.event = e;
    }
  });
  // Attempt records are keyed by event id, so they all sit in one partition.
  const ranges = await planScan(admin, ctx.topics.attempts, o.at, null, SLACK_MS);
  if (ranges.length > 0) {
    const partition = fastDefaultPartitioner()({
      topic: ctx.topics.attempts, message: { key: o.id, value: null },
      partitionMetadata: ranges.map((r) => ({ partitionId: r.partition, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 })),
    });
    await scan(ctx.kafka, ctx.topics.attempts, ranges.filter((r) => r.partition === partition), async (_p, messages) => {
      for (const m of messages) {
        if (m.key?.toString() !== o.id) continue;
        const a = await ctx.codec.decode<DeliveryAttempt>(m.value!);
        shown.attempts.push(a);
      }
    });
  }
  shown.attempts.sort((a, b) => a.destination.localeCompare(b.destination) || a.attempt - b.attempt || a.at - b.at);
  return shown;
}

export function formatShown(s: ShownEvent): string[] {
  if (!s.event) return [];
  const e = s.event;
  const body = bodyText(e.body);
  const lines = [
    `event ${e.id}  source ${e.source}  received ${iso(e.receivedAt)}`,
    `${e.method} ${e.path}${e.query ? `?${e.query}` : ''}  ordering key ${e.orderingKey}`,
    ...Object.entries(e.headers).map(([k, v]) => `  ${k}: ${v}`),
    '',
    body.encoding === 'utf8' ? body.text : `(binary, base64) ${body.text}`,
    '',
    s.attempts.length === 0 ? 'no delivery attempts recorded' : 'delivery attempts:',
    ...s.attempts.map((a) => `  ${a.destination}  #${a.attempt}  ${iso(a.at)}  ${a.outcome}  status ${a.status ?? '-'}  ${Math.round(a.latencyMs)} ms${a.error ? `  ${a.error}` : ''}${a.nextAttemptAt ? `  next ${iso(a.nextAttemptAt)}` : ''}`),
  ];
  return lines;
}

export function shownJson(s: ShownEvent): string {
  const e = s.event!;
  const body = bodyText(e.body);
  return JSON.stringify({
    event: { ...e, receivedAt: iso(e.receivedAt), body: body.text, bodyEncoding: body.encoding },
    attempts: s.attempts.map((a) => ({ ...a, at: iso(a.at), nextAttemptAt: a.nextAttemptAt ? iso(a.nextAttemptAt) : null })),
  });
}
