// Times on the command line: ISO 8601 (`2026-11-24T10:00:00Z`, `2026-11-24`) or relative
// to now (`90m`, `2h`, `3d`, `45s`, `500ms` ago), or `now`. Rates: `100/s`, `6000/m`, `100`.
import { UsageError } from './errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function parseTime(text: string, flag: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  const rel = /^(\d+)(ms|s|m|h|d|w)$/.exec(t);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]!]!;
  if (ISO.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(`${flag}: "${text}" is not a time (use ISO 8601 such as 2026-11-24T10:00:00Z, or 90m, 2h, 3d, now)`);
}

/** A half-open window [from, to); `to` before or equal to `from` is refused. */
export function parseWindow(from: string | undefined, to: string | undefined, opts: { required: boolean; now?: number }): { from: number; to: number } {
  const now = opts.now ?? Date.now();
  if (opts.required && from === undefined) throw new UsageError('--from is required');
  const f = from === undefined ? 0 : parseTime(from, '--from', now);
  const t = to === undefined ? now : parseTime(to, '--to', now);
  if (t <= f) throw new UsageError(`--to (${new Date(t).toISOString()}) must be after --from (${new Date(f).toISOString()})`);
  return { from: f, to: t };
}

export function parseRate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(?:\/(s|m))?$/.exec(text.trim());
  const n = m ? Number(m[1]) * (m[2] === 'm' ? 1 / 60 : 1) : NaN;
  if (!(n > 0)) throw new UsageError(`--rate: "${text}" is not a rate (use 100/s, 6000/m or 100)`);
  return n;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
