// hookyard replay: the raw events received in [from, to) go back through today's routing
// (filters and transforms, in this process, with the router's code) to their
// destinations' topics — or, with --destination D --no-route, straight to D's topic as they
// arrived. Replayed deliveries keep their event id (so their webhook-id), carry a replay id,
// and are skipped when already delivered unless --force.
import { randomUUID } from 'node:crypto';
import { directDelivery, ensureTopics, eventIdTime, isPoisonRecord, route, routeTable, type Delivery, type RawEvent } from '@hookyard/core';
import type { CliContext } from '../context.ts';
import { progress, type Progress } from '../progress.ts';
import { planScan, rangeSize, scan } from '../scan.ts';
import { Throttle } from '../throttle.ts';
import { iso, parseRate, parseWindow } from '../time.ts';
import { CommandFailed, UsageError } from '../errors.ts';

export const REPLAY_HELP = `Usage: hookyard replay --from <time> [--to <time>] [options]

Sends the events received in [--from, --to) back through the pipeline. The window
includes --from and excludes --to, on the time ingress received each event.

Options:
  --from <time>          start, inclusive (ISO 8601, or 90m / 2h / 3d ago, or now)
  --to <time>            end, exclusive (default: now)
  --source <name>        only events of this source (repeatable)
  --destination <name>   only deliveries to this destination
  --event-id <id>        only these events (repeatable; without --from the window
                         comes from the ids, which embed their time)
  --no-route             with --destination: the raw event as it arrived, no filter
                         or transform
  --force                send even what the destination already got (drops the
                         delivered marks of the selected deliveries)
  --rate <n/s>           at most this many deliveries per second (also 6000/m)
  --dry-run              show what would be replayed; produce nothing, change nothing
  --json                 the summary as JSON on stdout
  --help                 this text

Examples:
  hookyard replay --from 2h --source stripe --dry-run
  hookyard replay --from 2026-11-24T08:00:00Z --to 2026-11-24T09:00:00Z --destination billing --rate 50/s
  hookyard replay --event-id 01937d3e-5a1c-7c2e-9f00-3b2a1c0d4e5f --force`;

export const REPLAY_OPTIONS = {
  from: { type: 'string' }, to: { type: 'string' }, source: { type: 'string', multiple: true }, destination: { type: 'string' },
  'event-id': { type: 'string', multiple: true }, 'no-route': { type: 'boolean' }, force: { type: 'boolean' }, rate: { type: 'string' },
  'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' },
} as const;

export interface ReplayOptions {
  from: number;
  to: number;
  sources: string[];
  destination: string | undefined;
  eventIds: string[];
  route: boolean;
  force: boolean;
  rate: number | undefined;
  dryRun: boolean;
  json: boolean;
  /** Where progress goes instead of the terminal's bar (the web console's bulk jobs). */
  progress?: Progress;
}

export interface ReplaySummary {
  replayId: string;
  from: string;
  to: string;
  dryRun: boolean;
  scanned: number;
  matched: number;
  deliveries: number;
  replayed: number;
  skipped: number;
  filtered: number;
  failed: number;
}

/** Events are stamped with their receive time; the slack covers records stamped out of order. */
const SLACK_MS = 60_000;

export function replayOptions(v: { [K in keyof typeof REPLAY_OPTIONS]?: unknown }, ctx: Pick<CliContext, 'config'>, now = Date.now()): ReplayOptions {
  const sources = (v.source as string[] | undefined) ?? [];
  const eventIds = (v['event-id'] as string[] | undefined) ?? [];
  const destination = v.destination as string | undefined;
  const known = new Set(ctx.config.sources.map((s) => s.name));
  for (const s of sources) if (!known.has(s)) throw new UsageError(`--source: unknown source "${s}" (configured: ${[...known].join(', ')})`);
  if (destination !== undefined && !ctx.config.destinations.some((d) => d.name === destination)) {
    throw new UsageError(`--destination: unknown destination "${destination}" (configured: ${ctx.config.destinations.map((d) => d.name).join(', ') || 'none'})`);
  }
  if (v['no-route'] && destination === undefined) throw new UsageError('--no-route needs --destination (where should the raw events go?)');
  const times = eventIds.map((id) => {
    const t = eventIdTime(id);
    if (t === undefined) throw new UsageError(`--event-id: "${id}" is not a hookyard event id (UUIDv7)`);
    return t;
  });
  let window: { from: number; to: number };
  if (v.from === undefined && v.to === undefined && times.length > 0) window = { from: Math.min(...times), to: Math.max(...times) + 1 };
  else window = parseWindow(v.from as string | undefined, v.to as string | undefined, { required: true, now });
  return {
    ...window, sources, destination, eventIds, route: !v['no-route'], force: Boolean(v.force), rate: parseRate(v.rate as string | undefined),
    dryRun: Boolean(v['dry-run']), json: Boolean(v.json),
  };
}

export async function replay(ctx: CliContext, o: ReplayOptions): Promise<ReplaySummary> {
  const replayId = `rpl_${randomUUID()}`;
  const summary: ReplaySummary = {
    replayId, from: iso(o.from), to: iso(o.to), dryRun: o.dryRun, scanned: 0, matched: 0, deliveries: 0, replayed: 0, skipped: 0, filtered: 0, failed: 0,
  };
  const table = routeTable(ctx.config);
  const ids = new Set(o.eventIds);
  const sources = new Set(o.sources);
  const dedup = ctx.dedup();
  let dedupDown = false;
  const throttle = new Throttle(o.rate);
  const admin = await ctx.admin();
  const ranges = await planScan(admin, ctx.topics.rawEvents, o.from, o.to, SLACK_MS);
  if (!o.dryRun) {
    // The router creates these at start; a replay may come first (or to a new destination).
    const dests = o.destination !== undefined ? [o.destination] : ctx.config.destinations.map((d) => d.name);
    await ensureTopics(admin, ctx.config.kafka, dests.map((d) => ctx.topics.delivery(d)));
  }
  const producer = o.dryRun ? undefined : await ctx.producer();
  const bar = o.progress ?? progress(o.dryRun ? 'replay (dry run)' : 'replay', !o.json);
  bar.start(rangeSize(ranges));
  try {
    await scan(ctx.kafka, ctx.topics.rawEvents, ranges, async (_partition, messages) => {
      // One scan batch at a time: select and route, check dedup for the whole batch in one
      // pipelined round of Redis calls, then produce.
      const selected: Delivery[] = [];
      for (const m of messages) {
        summary.scanned++;
        let event: RawEvent;
        try {
          event = await ctx.codec.decode<RawEvent>(m.value!);
        } catch (err) {
          if (!isPoisonRecord(err)) throw err;
          continue; // not an event; the router dead-lettered it when it first passed
        }
        if (event.receivedAt < o.from || event.receivedAt >= o.to) continue;
        if (sources.size > 0 && !sources.has(event.source)) continue;
        if (ids.size > 0 && !ids.has(event.id)) continue;
        summary.matched++;
        const replayed: RawEvent = { ...event, replayId };
        if (o.route) {
          const r = await route(table, replayed);
          selected.push(...r.deliveries.filter((d) => o.destination === undefined || d.destination === o.destination));
          summary.filtered += r.filtered.filter((d) => o.destination === undefined || d === o.destination).length;
          for (const dl of r.deadLetters.filter((d) => o.destination === undefined || d.destination === o.destination)) {
            summary.failed++;
            ctx.out.note(`event ${dl.eventId} → ${dl.destination}: transform failed (${dl.lastError}); not replayed`);
          }
        } else {
          selected.push(directDelivery(replayed, o.destination!));
        }
      }
      summary.deliveries += selected.length;
      let delivered: boolean[] = selected.map(() => false);
      if (!dedupDown && selected.length > 0) {
        try {
          if (o.force) {
            if (!o.dryRun) await Promise.all(selected.map((d) => dedup.forget(d.destination, d.eventId)));
          } else {
            delivered = await Promise.all(selected.map((d) => dedup.isDelivered(d.destination, d.eventId)));
          }
        } catch (err) {
          dedupDown = true;
          delivered = selected.map(() => false);
          ctx.out.note(`dedup store unavailable (${(err as Error).message}); replaying without the delivered check`);
        }
      }
      const out = new Map<string, { key: string; value: Buffer }[]>();
      const flush = async (): Promise<void> => {
        if (!producer || out.size === 0) return;
        const topicMessages = [...out].map(([topic, msgs]) => ({ topic, messages: msgs }));
        out.clear();
        await producer.sendBatch({ acks: -1, topicMessages });
      };
      for (const [i, d] of selected.entries()) {
        if (delivered[i]) {
          summary.skipped++;
          continue;
        }
        summary.replayed++;
        if (o.dryRun) continue;
        await throttle.take();
        const topic = ctx.topics.delivery(d.destination);
        const list = out.get(topic) ?? [];
        list.push({ key: d.orderingKey, value: await ctx.codec.encode(topic, 'delivery', d) });
        out.set(topic, list);
        if (o.rate !== undefined) await flush(); // paced: each delivery leaves when its turn comes
      }
      await flush();
    }, (n) => bar.increment(n));
  } catch (err) {
    throw new CommandFailed(err, formatReplay(summary));
  } finally {
    bar.stop();
  }
  return summary;
}

export function formatReplay(s: ReplaySummary): string {
  const verb = s.dryRun ? 'would replay' : 'replayed';
  return `${s.dryRun ? 'dry run — nothing produced. ' : ''}window [${s.from}, ${s.to}): scanned ${s.scanned}, matched ${s.matched} events → ${s.deliveries} deliveries; ` +
    `${verb} ${s.replayed}, skipped ${s.skipped} (already delivered), filtered ${s.filtered}, failed ${s.failed}; replay id ${s.replayId}`;
}
