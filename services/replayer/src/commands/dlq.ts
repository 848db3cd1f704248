// hookyard dlq list | redrive: what is in dead-letters, and sending it back. A redriven
// delivery goes to its destination's topic with a fresh attempt count and a replay id.
import { randomUUID } from 'node:crypto';
import { ensureTopics, eventIdTime, isPoisonRecord, type DeadLetter, type Delivery } from '@hookyard/core';
import type { CliContext } from '../context.ts';
import { CommandFailed, UsageError } from '../errors.ts';
import { progress, type Progress } from '../progress.ts';
import { planScan, rangeSize, scan } from '../scan.ts';
import { Throttle } from '../throttle.ts';
import { iso, parseRate, parseWindow } from '../time.ts';

export const DLQ_HELP = `Usage: hookyard dlq list    [--destination D] [--from <time>] [--to <time>] [--json]
       hookyard dlq redrive [--destination D] [--from <time>] [--to <time>] [--event-id ID…]
                            [--rate <n/s>] [--dry-run] [--json]

list     prints the dead letters whose time of death is in [--from, --to) (default: all
         of them), with their last status and error.
redrive  sends the selected dead letters of the delivery stage back to their destination's
         topic with a fresh attempt count. Dead letters of the transform or decode stage
         are skipped: replay their event instead (hookyard replay --event-id …).

Options:
  --destination <name>  only this destination
  --from / --to <time>  ISO 8601, or 90m / 2h / 3d ago, or now
  --event-id <id>       only these events (repeatable)
  --rate <n/s>          redrive at most this many per second
  --dry-run             show what would be redriven; produce nothing
  --json                one JSON object per line (list) or the summary as JSON (redrive)
  --help                this text

Examples:
  hookyard dlq list --destination billing --from 1d
  hookyard dlq redrive --destination billing --from 6h --rate 20/s`;

export const DLQ_OPTIONS = {
  destination: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'event-id': { type: 'string', multiple: true },
  rate: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' },
} as const;

export interface DlqOptions {
  action: 'list' | 'redrive';
  destination: string | undefined;
  from: number;
  to: number;
  eventIds: string[];
  rate: number | undefined;
  dryRun: boolean;
  json: boolean;
  /** Where progress goes instead of the terminal's bar (the web console's bulk jobs). */
  progress?: Progress;
}

export interface DlqSummary {
  scanned: number;
  matched: number;
  redriven: number;
  skipped: number;
  dryRun: boolean;
}

const SLACK_MS = 60_000;

export function dlqOptions(action: string | undefined, v: { [K in keyof typeof DLQ_OPTIONS]?: unknown }, ctx: Pick<CliContext, 'config'>, now = Date.now()): DlqOptions {
  if (action !== 'list' && action !== 'redrive') throw new UsageError(`dlq: expected "list" or "redrive"${action ? `, not "${action}"` : ''}`);
  const destination = v.destination as string | undefined;
  if (destination !== undefined && !ctx.config.destinations.some((d) => d.name === destination)) {
    throw new UsageError(`--destination: unknown destination "${destination}" (configured: ${ctx.config.destinations.map((d) => d.name).join(', ') || 'none'})`);
  }
  const eventIds = (v['event-id'] as string[] | undefined) ?? [];
  for (const id of eventIds) if (eventIdTime(id) === undefined) throw new UsageError(`--event-id: "${id}" is not a hookyard event id (UUIDv7)`);
  return {
    action, destination, eventIds, ...parseWindow(v.from as string | undefined, v.to as string | undefined, { required: false, now }),
    rate: parseRate(v.rate as string | undefined), dryRun: Boolean(v['dry-run']), json: Boolean(v.json),
  };
}

export async function dlq(ctx: CliContext, o: DlqOptions): Promise<DlqSummary> {
  const s: DlqSummary = { scanned: 0, matched: 0, redriven: 0, skipped: 0, dryRun: o.dryRun };
  const ids = new Set(o.eventIds);
  const replayId = `rpl_${randomUUID()}`;
  const throttle = new Throttle(o.rate);
  const admin = await ctx.admin();
  const ranges = await planScan(admin, ctx.topics.deadLetters, o.from, o.to, SLACK_MS);
  if (o.action === 'redrive' && !o.dryRun) await ensureTopics(admin, ctx.config.kafka, ctx.config.destinations.map((d) => ctx.topics.delivery(d.name)));
  const producer = o.action === 'redrive' && !o.dryRun ? await ctx.producer() : undefined;
  const configured = new Set(ctx.config.destinations.map((d) => d.name));
  const bar = o.progress ?? progress(`dlq ${o.action}`, !o.json);
  bar.start(rangeSize(ranges));
  try {
    await scan(ctx.kafka, ctx.topics.deadLetters, ranges, async (_p, messages) => {
      for (const m of messages) {
        s.scanned++;
        let dl: DeadLetter;
        try {
          dl = await ctx.codec.decode<DeadLetter>(m.value!);
        } catch (err) {
          if (!isPoisonRecord(err)) throw err;
          continue;
        }
        if (dl.deadAt < o.from || dl.deadAt >= o.to) continue;
        if (o.destination !== undefined && dl.destination !== o.destination) continue;
        if (ids.size > 0 && !ids.has(dl.eventId)) continue;
        s.matched++;
        if (o.action === 'list') {
          ctx.out.line(o.json ? JSON.stringify({ ...dl, body: undefined, bodyBytes: dl.body.length, deadAt: iso(dl.deadAt), receivedAt: iso(dl.receivedAt) }) : formatDeadLetter(dl));
          continue;
        }
        if (dl.stage !== 'delivery' || !configured.has(dl.destination)) {
          s.skipped++;
          ctx.out.note(`skipped ${dl.eventId || '(undecodable record)'} → ${dl.destination || '?'}: ${dl.stage !== 'delivery' ? `${dl.stage} stage; replay the event instead` : 'destination no longer configured'}`);
          continue;
        }
        s.redriven++;
        if (!producer) continue;
        await throttle.take();
        const d: Delivery = {
          eventId: dl.eventId, source: dl.source, destination: dl.destination, receivedAt: dl.receivedAt, orderingKey: dl.orderingKey,
          headers: dl.headers, body: dl.body, attempt: 0, replayId,
        };
        const topic = ctx.topics.delivery(d.destination);
        await producer.send({ topic, acks: -1, messages: [{ key: d.orderingKey, value: await ctx.codec.encode(topic, 'delivery', d) }] });
      }
    }, (n) => bar.increment(n));
  } catch (err) {
    throw new CommandFailed(err, formatDlq(o, s));
  } finally {
    bar.stop();
  }
  return s;
}

export function formatDeadLetter(dl: DeadLetter): string {
  return `${iso(dl.deadAt)}  ${dl.eventId || '(undecodable)'}  → ${dl.destination || '-'}  ${dl.stage}  attempts ${dl.attempts}  status ${dl.lastStatus ?? '-'}  ${dl.lastError}`;
}

export function formatDlq(o: DlqOptions, s: DlqSummary): string {
  if (o.action === 'list') return `${s.matched} dead letter(s) of ${s.scanned} scanned in [${iso(o.from)}, ${iso(o.to)})`;
  return `${o.dryRun ? 'dry run — nothing produced. would redrive' : 'redriven'} ${s.redriven}, skipped ${s.skipped}, of ${s.matched} matched (${s.scanned} scanned)`;
}
