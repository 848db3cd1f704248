// Durations in the config: a number of ms, or 500ms, 30s, 10m, 24h, 7d.
export function parseDuration(d: number | string): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
