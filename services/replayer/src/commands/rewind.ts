// hookyard rewind: moves a stopped consumer group's committed offsets to the first offset
// at or after a time, partition by partition, so the group reads again from there.
import { groupId } from '@hookyard/core';
import type { CliContext } from '../context.ts';
import { CommandFailed, UsageError } from '../errors.ts';
import { iso, parseTime } from '../time.ts';

export const REWIND_HELP = `Usage: hookyard rewind --group <group> --to <time> [--topic T] [--dry-run] [--json]

Moves the committed offsets of a stopped consumer group to the first offset at or after
<time> in every partition of its topics (or of --topic), and prints each move. The
group's consumers must be stopped: an active group is refused and nothing is changed.

Options:
  --group <group>   the consumer group; "router", "deliverer" and "deliverer-retry"
                    name hookyard's own groups (with the configured topicPrefix)
  --to <time>       ISO 8601, or 90m / 2h / 3d ago, or now
  --topic <topic>   only this topic (default: every topic the group has offsets for)
  --dry-run         print the moves, change nothing
  --json            the moves as JSON on stdout
  --help            this text

Examples:
  hookyard rewind --group deliverer --to 2h --dry-run
  hookyard rewind --group my-analytics --to 2026-11-24T08:00:00Z --topic raw-events`;

export const REWIND_OPTIONS = {
  group: { type: 'string' }, to: { type: 'string' }, topic: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' },
} as const;

export interface RewindOptions {
  group: string;
  to: number;
  topic: string | undefined;
  dryRun: boolean;
  json: boolean;
}

export interface Move {
  topic: string;
  partition: number;
  /** The committed offset before (null: none committed). */
  from: number | null;
  to: number;
  /** Records the group will read again (negative: skipped forward). */
  affected: number;
}

const ALIASES: Record<string, string> = { router: 'router', deliverer: 'deliverer', 'deliverer-retry': 'deliverer' };

export function rewindOptions(v: { [K in keyof typeof REWIND_OPTIONS]?: unknown }, ctx: Pick<CliContext, 'config'>, now = Date.now()): RewindOptions {
  if (typeof v.group !== 'string' || v.group === '') throw new UsageError('--group is required');
  if (typeof v.to !== 'string') throw new UsageError('--to is required');
  const alias = ALIASES[v.group];
  const group = alias ? `${groupId(ctx.config.kafka, alias)}${v.group === 'deliverer-retry' ? '-retry' : ''}` : v.group;
  return { group, to: parseTime(v.to, '--to', now), topic: v.topic as string | undefined, dryRun: Boolean(v['dry-run']), json: Boolean(v.json) };
}

export async function rewind(ctx: CliContext, o: RewindOptions): Promise<Move[]> {
  const admin = await ctx.admin();
  const { groups } = await admin.describeGroups([o.group]);
  const g = groups[0];
  const committed = await admin.fetchOffsets({ groupId: o.group });
  const withOffsets = committed.filter((t) => t.partitions.some((p) => Number(p.offset) >= 0));
  if (!g || (g.state === 'Dead' && withOffsets.length === 0)) throw new UsageError(`unknown consumer group "${o.group}" (no members, no committed offsets)`);
  if (g.members.length > 0 || (g.state !== 'Empty' && g.state !== 'Dead')) {
    throw new UsageError(`consumer group "${o.group}" is active (${g.state}, ${g.members.length} member(s)); stop its consumers first — nothing changed`);
  }
  let topics = withOffsets.map((t) => t.topic);
  if (o.topic !== undefined) {
    if (!(await admin.listTopics()).includes(o.topic)) throw new UsageError(`--topic: unknown topic "${o.topic}"`);
    topics = [o.topic];
  }
  if (topics.length === 0) throw new UsageError(`consumer group "${o.group}" has no committed offsets; give --topic`);
  const moves: Move[] = [];
  for (const topic of topics) {
    const before = new Map((committed.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    const targets = await admin.fetchTopicOffsetsByTimestamp(topic, o.to);
    for (const t of targets.sort((a, b) => a.partition - b.partition)) {
      const from = before.get(t.partition);
      const to = Number(t.offset);
      const known = from !== undefined && from >= 0 ? from : null;
      moves.push({ topic, partition: t.partition, from: known, to, affected: known === null ? 0 : known - to });
    }
  }
  if (!o.dryRun) {
    try {
      for (const topic of topics) {
        await admin.setOffsets({ groupId: o.group, topic, partitions: moves.filter((m) => m.topic === topic).map((m) => ({ partition: m.partition, offset: String(m.to) })) });
      }
    } catch (err) {
      throw new CommandFailed(err, `rewind of "${o.group}" to ${iso(o.to)} failed part-way; check with --dry-run`);
    }
  }
  return moves;
}

export function formatMoves(o: RewindOptions, moves: Move[]): string[] {
  const lines = moves.map((m) => `${m.topic}[${m.partition}]  ${m.from ?? '(none)'} → ${m.to}  (${m.affected >= 0 ? `${m.affected} to read again` : `${-m.affected} skipped`})`);
  const total = moves.reduce((n, m) => n + Math.max(0, m.affected), 0);
  lines.push(`${o.dryRun ? 'dry run — nothing changed. would move' : 'moved'} "${o.group}" to ${iso(o.to)}: ${moves.length} partition(s), ${total} record(s) to read again`);
  return lines;
}
