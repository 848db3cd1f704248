// Prometheus histograms read from a service's /metrics text, and quantiles of what was
// observed between two scrapes (the difference of the cumulative buckets), interpolated
// within a bucket. Used by the bench and the fault suite to say where time goes.

export type Buckets = { le: number; count: number }[];

/** Every series of histogram `name`, keyed by its labels other than `le` ("a=x,b=y"). */
export function parseHistograms(text: string, name: string): Map<string, Buckets> {
  const out = new Map<string, Buckets>();
  const re = new RegExp(`^${name}_bucket\\{([^}]*)\\} ([0-9.e+]+)`, 'gm');
  for (const m of text.matchAll(re)) {
    const labels = [...m[1]!.matchAll(/(\w+)="([^"]*)"/g)];
    const le = labels.find((l) => l[1] === 'le')?.[2];
    if (le === undefined) continue;
    const key = labels.filter((l) => l[1] !== 'le' && l[1] !== 'service').map((l) => `${l[1]}=${l[2]}`).join(',');
    const list = out.get(key) ?? [];
    list.push({ le: le === '+Inf' ? Infinity : Number(le), count: Number(m[2]) });
    out.set(key, list);
  }
  return out;
}

/** Observations between two scrapes (`before` may be missing: the series is new). */
export function delta(before: Buckets | undefined, after: Buckets): Buckets {
  return after.map((x, i) => ({ le: x.le, count: Math.max(0, x.count - (before?.[i]?.count ?? 0)) }));
}

export function total(b: Buckets): number {
  return b.at(-1)?.count ?? 0;
}

/** The q-quantile in seconds, interpolated within its bucket; NaN when nothing was observed. */
export function quantile(b: Buckets, q: number): number {
  const n = total(b);
  if (n === 0) return NaN;
  const rank = q * n;
  let prevLe = 0;
  let prevCount = 0;
  for (const x of b) {
    if (x.count >= rank) {
      const upper = Number.isFinite(x.le) ? x.le : prevLe;
      const within = x.count - prevCount;
      return prevLe + (within > 0 ? ((rank - prevCount) / within) * (upper - prevLe) : 0);
    }
    prevLe = x.le;
    prevCount = x.count;
  }
  return prevLe;
}

/** Milliseconds, rounded to what a bucketed figure can say. */
export function ms(seconds: number): number {
  return Number.isNaN(seconds) ? NaN : seconds < 0.01 ? Math.round(seconds * 10_000) / 10 : Math.round(seconds * 1000);
}

/**
 * The deliverer's per-stage p50/p99 (ms) between two scrapes, per destination:
 * { keyed: { queued: [p50, p99], … } }.
 */
export function stageFigures(before: string, after: string): Record<string, Record<string, [number, number]>> {
  const a = parseHistograms(before, 'hookyard_deliverer_stage_seconds');
  const b = parseHistograms(after, 'hookyard_deliverer_stage_seconds');
  const out: Record<string, Record<string, [number, number]>> = {};
  for (const [key, buckets] of b) {
    const d = delta(a.get(key), buckets);
    if (total(d) === 0) continue;
    const labels = Object.fromEntries(key.split(',').map((kv) => kv.split('=') as [string, string]));
    const dest = labels.destination ?? '?';
    (out[dest] ??= {})[labels.stage ?? '?'] = [ms(quantile(d, 0.5)), ms(quantile(d, 0.99))];
  }
  return out;
}

/** One line per destination: "keyed queued 0.3/12 decode 0.1/0.4 … (ms p50/p99)". */
export function formatStages(f: Record<string, Record<string, [number, number]>>): string {
  return Object.entries(f).map(([dest, stages]) => `${dest}: ${Object.entries(stages).map(([s, [p50, p99]]) => `${s} ${p50}/${p99}`).join(' ')}`).join('; ');
}
