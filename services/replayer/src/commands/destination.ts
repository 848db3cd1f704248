// hookyard destination pause | resume | status | reset-breaker: operator control of a
// destination. Pauses live in the destination-state topic (they survive restarts of
// every process); breaker state lives in Redis; pending work is read from Kafka.
import { DestinationStateStore, RedisProtectionStore, groupId, isPoisonRecord, type DestinationConfig } from '@hookyard/core';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { iso } from '../time.ts';
import { scan } from '../scan.ts';

export const DESTINATION_HELP = `Usage: hookyard destination pause <name> [--reason "…"]
       hookyard destination resume <name>
       hookyard destination status [<name>] [--json]
       hookyard destination reset-breaker <name>

pause          stop delivering to <name>: its deliveries keep arriving in its topic and
               wait there; retries waiting in the retry topics wait too. Survives restarts.
resume         deliver again; the backlog drains at the destination's rate limit.
status         paused (and why), circuit breaker state, pending deliveries (consumer lag)
               and the age of the oldest one — for one destination or all.
reset-breaker  force-close the circuit breaker (the next attempt goes through).

Options:
  --reason <text>  why, shown by status (pause)
  --json           JSON on stdout (status)
  --help           this text

Examples:
  hookyard destination pause billing --reason "maintenance until 14:00"
  hookyard destination status --json
  hookyard destination resume billing`;

export const DESTINATION_OPTIONS = { reason: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } } as const;

export interface DestinationOptions {
  action: 'pause' | 'resume' | 'status' | 'reset-breaker';
  names: string[];
  reason: string | undefined;
  json: boolean;
}

export interface DestinationStatus {
  name: string;
  paused: boolean;
  pausedBy: 'config' | 'operator' | 'deliverer' | null;
  reason: string | null;
  pausedAt: string | null;
  breaker: { state: string; consecutiveFailures: number; openedAt: string | null; probeAt: string | null } | null;
  pending: number;
  oldestPendingAgeSeconds: number | null;
}

export function destinationOptions(positionals: string[], v: { [K in keyof typeof DESTINATION_OPTIONS]?: unknown }, ctx: Pick<CliContext, 'config'>): DestinationOptions {
  const [action, name, extra] = positionals;
  if (action !== 'pause' && action !== 'resume' && action !== 'status' && action !== 'reset-breaker') {
    throw new UsageError(`destination: expected pause, resume, status or reset-breaker${action ? `, not "${action}"` : ''}`);
  }
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const known = ctx.config.destinations.map((d) => d.name);
  if (name === undefined && action !== 'status') throw new UsageError(`destination ${action}: give a destination name`);
  if (name !== undefined && !known.includes(name)) throw new UsageError(`unknown destination "${name}" (configured: ${known.join(', ') || 'none'})`);
  return { action, names: name ? [name] : known, reason: v.reason as string | undefined, json: Boolean(v.json) };
}

export async function destination(ctx: CliContext, o: DestinationOptions): Promise<DestinationStatus[]> {
  const admin = await ctx.admin();
  const states = new DestinationStateStore(ctx.kafka, ctx.config.kafka, ctx.topics.destinationState);
  const protection = ctx.protection();
  try {
    await states.start(admin);
    const dests = o.names.map((n) => ctx.config.destinations.find((d) => d.name === n)!);
    if (o.action === 'pause' || o.action === 'resume') {
      for (const d of dests) await states.set(d.name, { paused: o.action === 'pause', reason: o.reason ?? (o.action === 'pause' ? 'paused by an operator' : ''), at: Date.now(), by: 'operator' });
    } else if (o.action === 'reset-breaker') {
      for (const d of dests) await protection.resetBreaker(d.name, d.breaker.windowMs);
    }
    return await Promise.all(dests.map((d) => status(ctx, d, states, protection)));
  } finally {
    await states.close();
  }
}

async function status(ctx: CliContext, d: DestinationConfig, states: DestinationStateStore, protection: RedisProtectionStore): Promise<DestinationStatus> {
  const admin = await ctx.admin();
  const s = states.get(d.name);
  const b = await protection.breaker(d.name, d.breaker.cooldownMs).catch(() => null);
  const topic = ctx.topics.delivery(d.name);
  let pending = 0;
  let oldest: number | null = null;
  if ((await admin.listTopics()).includes(topic)) {
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = (await admin.fetchOffsets({ groupId: groupId(ctx.config.kafka, 'deliverer'), topics: [topic] }))[0]?.partitions ?? [];
    const ranges = ends.map((e) => {
      const c = Number(committed.find((p) => p.partition === e.partition)?.offset ?? -1);
      const start = c >= 0 ? c : Number(e.low);
      return { partition: e.partition, start, end: Number(e.high) };
    });
    pending = ranges.reduce((n, r) => n + Math.max(0, r.end - r.start), 0);
    // The first uncommitted record of each partition is the oldest pending one there.
    await scan(ctx.kafka, topic, ranges.filter((r) => r.end > r.start).map((r) => ({ ...r, end: r.start + 1 })), async (_p, messages) => {
      for (const m of messages) oldest = Math.min(oldest ?? Infinity, Number(m.timestamp));
    }).catch((err: unknown) => { if (!isPoisonRecord(err)) throw err; });
  }
  const paused = d.paused || (s?.paused ?? false);
  return {
    name: d.name, paused,
    pausedBy: d.paused ? 'config' : s?.paused ? (s.by === 'deliverer' ? 'deliverer' : 'operator') : null,
    reason: d.paused ? 'paused: true in the config' : s?.paused ? s.reason : null,
    pausedAt: !d.paused && s?.paused ? iso(s.at) : null,
    breaker: b ? { state: b.state, consecutiveFailures: b.consecutiveFailures, openedAt: b.openedAt ? iso(b.openedAt) : null, probeAt: b.probeAt ? iso(b.probeAt) : null } : null,
    pending,
    oldestPendingAgeSeconds: oldest === null ? null : Math.round((Date.now() - oldest) / 100) / 10,
  };
}

export function formatStatus(list: DestinationStatus[]): string[] {
  return list.map((s) => `${s.name}  ${s.paused ? `PAUSED (${s.pausedBy}: ${s.reason})` : 'active'}  breaker ${s.breaker ? s.breaker.state + (s.breaker.probeAt && s.breaker.state === 'open' ? ` until ${s.breaker.probeAt}` : '') : 'unknown (Redis unavailable)'}  pending ${s.pending}${s.oldestPendingAgeSeconds !== null ? `, oldest ${s.oldestPendingAgeSeconds} s` : ''}`);
}
