// kafkajs's log entries, bridged to pino at the level an operator should see them at.
//
// kafkajs logs at ERROR what is routine while a broker starts, a fresh topic elects its
// leaders or a group rebalances: "The coordinator is loading", "This server does not host
// this topic-partition", "The group is rebalancing", each with a stack. It retries them
// itself and they heal in seconds, but a terminal full of them says the opposite of what
// is happening. These are logged at debug; if one kind keeps coming back for longer than
// `deadlineMs`, one line at error says what is wrong and for how long (and one at info
// when it clears). Everything else — a broker that cannot be reached, an authorization
// failure, a consumer that gave up — stays at error (or warn), as one line: kafkajs's
// message and error, without its stack, repeats within a few seconds folded into a count.
import { logLevel, type logCreator, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

/** Routine conditions kafkajs retries by itself, by what they mean for an operator. */
const TRANSIENT: readonly (readonly [RegExp, string])[] = [
  [/coordinator is loading/i, 'the group coordinator is loading'],
  [/coordinator is not available|not the correct coordinator/i, 'no group coordinator yet'],
  [/not the leader for that topic-partition|no leader for this topic-partition|leadership election/i, 'a partition is electing its leader'],
  [/does not host this topic-partition/i, 'a topic is not yet known to the broker'],
  // A CreateTopics answer with errors: ensureTopics retries races and fails the start,
  // with its own line, on a refusal that cannot heal.
  [/topic with this name already exists|^Response CreateTopics.*Topic creation errors/i, 'two clients created the same topic'],
  [/rebalanc/i, 'the consumer group is rebalancing'],
  [/generation id is not valid|not aware of this member/i, 'the consumer group membership changed'],
  [/concurrent operation on the same transaction/i, 'the previous transaction is still being completed'],
  [/^Restarting the consumer in \d+ms/, 'a consumer is restarting after a retriable error'],
];

/** Warnings about choices hookyard makes on purpose. */
const DELIBERATE = [
  // ingress bounds retries so a 503 answers within produceTimeoutMs; the producer stays
  // idempotent with one request in flight, which keeps its order and no-duplicate promise.
  /Limiting retries for the idempotent producer/,
];

/** Fields of kafkajs's entries worth a column; stacks and protocol noise are dropped. */
const KEEP = ['broker', 'clientId', 'groupId', 'topic', 'partition', 'retryCount', 'retryTime'] as const;

export interface KafkajsLogOptions {
  /** A routine condition lasting longer than this is reported at error. */
  deadlineMs?: number;
  /** A condition not seen for this long has cleared. */
  quietMs?: number;
  /** Identical non-routine lines within this window are folded into a count. */
  repeatWindowMs?: number;
  now?: () => number;
}

interface Streak {
  first: number;
  last: number;
  count: number;
  reportedAt: number | null;
  sample: string;
  fields: Record<string, unknown>;
  timer: NodeJS.Timeout | null;
}

export function transientKind(text: string): string | undefined {
  for (const [re, kind] of TRANSIENT) if (re.test(text)) return kind;
  return undefined;
}

export function kafkajsLogCreator(parent: Logger, opts: KafkajsLogOptions = {}): logCreator {
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const quietMs = opts.quietMs ?? 10_000;
  const repeatWindowMs = opts.repeatWindowMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const log = parent.child({ component: 'kafka' });
  const streaks = new Map<string, Streak>();
  const repeats = new Map<string, { at: number; folded: number }>();

  const secondsOf = (ms: number): number => Math.round(ms / 1000);

  function endStreak(kind: string, s: Streak): void {
    streaks.delete(kind);
    if (s.timer) clearTimeout(s.timer);
    if (s.reportedAt !== null) log.info({ ...s.fields, condition: kind, seconds: secondsOf(s.last - s.first) }, `kafka recovered: ${kind} (lasted ${secondsOf(s.last - s.first)} s)`);
  }

  function transient(kind: string, line: string, fields: Record<string, unknown>): void {
    const t = now();
    let s = streaks.get(kind);
    if (s && t - s.last > quietMs) {
      endStreak(kind, s);
      s = undefined;
    }
    if (!s) {
      s = { first: t, last: t, count: 0, reportedAt: null, sample: line, fields, timer: null };
      streaks.set(kind, s);
    }
    s.last = t;
    s.count++;
    s.sample = line;
    s.fields = fields;
    log.debug({ ...fields, condition: kind }, line);
    const lasted = t - s.first;
    // Once when it outlasts the deadline, then at most every ten deadlines while it lasts.
    if (lasted >= deadlineMs && (s.reportedAt === null || t - s.reportedAt >= 10 * deadlineMs)) {
      s.reportedAt = t;
      log.error({ ...fields, condition: kind, seconds: secondsOf(lasted), occurrences: s.count },
        `kafka not healthy for ${secondsOf(lasted)} s: ${kind} (kafkajs keeps retrying; last: ${line})`);
    }
    // A reported condition says when it has cleared; an unreported one ends silently.
    if (s.reportedAt !== null) {
      if (s.timer) clearTimeout(s.timer);
      const streak = s;
      s.timer = setTimeout(() => { if (streaks.get(kind) === streak) endStreak(kind, streak); }, quietMs);
      s.timer.unref();
    }
  }

  function folded(line: string): number | null {
    const t = now();
    const r = repeats.get(line);
    if (r && t - r.at < repeatWindowMs) {
      r.folded++;
      return null;
    }
    repeats.set(line, { at: t, folded: 0 });
    if (repeats.size > 200) for (const [k, v] of repeats) if (t - v.at >= repeatWindowMs) repeats.delete(k);
    return r?.folded ?? 0;
  }

  return () => ({ level, log: entry }: LogEntry) => {
    if (level > logLevel.WARN) {
      log.debug(fieldsOf(entry), entry.message);
      return;
    }
    const error = typeof entry.error === 'string' ? entry.error : (entry.error as Error | undefined)?.message;
    const line = error && !entry.message.includes(error) ? `${entry.message}: ${error}` : entry.message;
    const fields = fieldsOf(entry);
    if (DELIBERATE.some((re) => re.test(line))) {
      log.debug(fields, line);
      return;
    }
    const kind = transientKind(line);
    if (kind) {
      transient(kind, line, fields);
      return;
    }
    const before = folded(line);
    if (before === null) return;
    const withCount = before > 0 ? { ...fields, repeated: before } : fields;
    if (level === logLevel.ERROR || level === logLevel.NOTHING) log.error(withCount, line);
    else log.warn(withCount, line);
  };
}

function fieldsOf(entry: LogEntry['log']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const e = entry as unknown as Record<string, unknown>;
  for (const k of KEEP) if (e[k] !== undefined) out[k] = e[k];
  return out;
}
