// The store's bucketed counts → uPlot's columnar series ([times in s, series…]), with
// every bucket of the window present (a quiet bucket is 0, not a gap in the line).
import { LATENCY_BOUNDS, type AttemptStat, type Counts, type DeliveryLatencyStat } from '../store/driver.ts';

export interface Window { from: number; to: number; bucketMs: number; label: string }

const WINDOWS: Record<string, number> = { '1h': 3_600_000, '6h': 21_600_000, '24h': 86_400_000, '7d': 604_800_000 };

/** ?window=1h|6h|24h|7d (6h unless given), cut into 60 buckets of a round size. */
export function chartWindow(param: unknown, now = Date.now()): Window {
  const label = typeof param === 'string' && param in WINDOWS ? param : '6h';
  const span = WINDOWS[label]!;
  const bucketMs = span / 60;
  // The bucket now is in: its events so far are shown.
  const to = (Math.floor(now / bucketMs) + 1) * bucketMs;
  return { from: to - span, to, bucketMs, label };
}

export interface Chart { title: string; unit: string; labels: string[]; data: (number | null)[][] }

function buckets(w: Window): number[] {
  const out: number[] = [];
  for (let t = w.from; t < w.to; t += w.bucketMs) out.push(t);
  return out;
}

/** One line per key, summed per bucket. */
function lines(w: Window, rows: { bucket: number; key: string; value: number }[], title: string, unit: string): Chart {
  const xs = buckets(w);
  const keys = [...new Set(rows.map((r) => r.key))].sort();
  const index = new Map(xs.map((x, i) => [x, i]));
  const data: number[][] = [xs.map((x) => x / 1000), ...keys.map(() => xs.map(() => 0))];
  for (const r of rows) {
    const i = index.get(r.bucket);
    if (i !== undefined) data[keys.indexOf(r.key) + 1]![i]! += r.value;
  }
  return { title, unit, labels: keys, data };
}

export function receivedBySource(w: Window, c: Counts): Chart {
  return lines(w, c.received.map((r) => ({ bucket: r.bucket, key: r.source, value: r.count })), 'Events received per source', 'events');
}

export function throughput(w: Window, c: Counts, a: AttemptStat[]): Chart {
  return lines(w, [
    ...c.received.map((r) => ({ bucket: r.bucket, key: 'in (received)', value: r.count })),
    ...a.filter((x) => x.success).map((x) => ({ bucket: x.bucket, key: 'out (delivered)', value: x.count })),
    ...a.filter((x) => !x.success).map((x) => ({ bucket: x.bucket, key: 'failed attempts', value: x.count })),
  ], 'Throughput in and out', 'per bucket');
}

export function refusalsByReason(w: Window, refusals: { receivedAt: number; source: string; code: string }[]): Chart {
  return lines(w, refusals.map((r) => ({ bucket: Math.floor(r.receivedAt / w.bucketMs) * w.bucketMs, key: `${r.source}: ${r.code}`, value: 1 })), 'Refused requests by source and reason', 'requests');
}

/**
 * Error rate over time, one line per source (refused requests as a share of all requests it
 * got) and per destination (failed attempts as a share of attempts); a bucket with nothing
 * is a gap (null), not 0 %.
 */
export function errorRates(w: Window, c: Counts, a: AttemptStat[], refusals: { receivedAt: number; source: string }[]): Chart {
  const xs = buckets(w);
  const at = (bucket: number) => Math.round((bucket - w.from) / w.bucketMs);
  const series = new Map<string, { bad: number[]; all: number[] }>();
  const add = (key: string, i: number, bad: number, all: number) => {
    if (i < 0 || i >= xs.length) return;
    let s = series.get(key);
    if (!s) series.set(key, (s = { bad: xs.map(() => 0), all: xs.map(() => 0) }));
    s.bad[i]! += bad;
    s.all[i]! += all;
  };
  for (const r of c.received) add(`${r.source} (refused)`, at(r.bucket), 0, r.count);
  for (const r of refusals) add(`${r.source} (refused)`, at(Math.floor(r.receivedAt / w.bucketMs) * w.bucketMs), 1, 1);
  for (const x of a) add(`→ ${x.destination} (failed attempts)`, at(x.bucket), x.success ? 0 : x.count, x.count);
  const keys = [...series.keys()].sort();
  return {
    title: 'Error rate per source and destination', unit: '%', labels: keys,
    data: [xs.map((x) => x / 1000), ...keys.map((k) => { const s = series.get(k)!; return s.all.map((n, i) => (n === 0 ? null : Math.round((s.bad[i]! / n) * 1000) / 10)); })],
  };
}

/** A quantile from latency-bucket counts: the upper bound of the bucket it falls in (ms). */
export function latencyQuantile(counts: Map<number, number>, q: number): number | null {
  const total = [...counts.values()].reduce((s, n) => s + n, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let b = 0; b < LATENCY_BOUNDS.length; b++) {
    seen += counts.get(b) ?? 0;
    if (seen >= q * total) return Number.isFinite(LATENCY_BOUNDS[b]!) ? LATENCY_BOUNDS[b]! : LATENCY_BOUNDS[b - 1]!;
  }
  return null;
}

/** End-to-end latency (received → delivered) p50/p99 per source → destination pair over time. */
export function endToEndCharts(w: Window, rows: DeliveryLatencyStat[]): Chart[] {
  const xs = buckets(w);
  const pairs = [...new Set(rows.map((r) => `${r.source} → ${r.destination}`))].sort();
  return pairs.map((pair) => {
    const lat = xs.map(() => new Map<number, number>());
    for (const r of rows) {
      if (`${r.source} → ${r.destination}` !== pair) continue;
      const i = Math.round((r.bucket - w.from) / w.bucketMs);
      if (i >= 0 && i < xs.length) lat[i]!.set(r.latencyBucket, (lat[i]!.get(r.latencyBucket) ?? 0) + r.count);
    }
    return { title: `${pair}: end-to-end latency`, unit: 'ms', labels: ['p50', 'p99'], data: [xs.map((x) => x / 1000), lat.map((m) => latencyQuantile(m, 0.5)), lat.map((m) => latencyQuantile(m, 0.99))] };
  });
}

/** Per destination: success rate (%) and request latency p50/p99 (ms, bucket upper bounds) over time. */
export function destinationCharts(w: Window, a: AttemptStat[], destination: string): { success: Chart; latency: Chart } {
  const xs = buckets(w);
  const ok = xs.map(() => 0);
  const all = xs.map(() => 0);
  const lat = xs.map(() => new Map<number, number>());
  for (const x of a) {
    if (x.destination !== destination) continue;
    const i = Math.round((x.bucket - w.from) / w.bucketMs);
    if (i < 0 || i >= xs.length) continue;
    all[i]! += x.count;
    if (x.success) ok[i]! += x.count;
    lat[i]!.set(x.latencyBucket, (lat[i]!.get(x.latencyBucket) ?? 0) + x.count);
  }
  const t = xs.map((x) => x / 1000);
  return {
    success: { title: `${destination}: success rate`, unit: '%', labels: ['success %'], data: [t, all.map((n, i) => (n === 0 ? null : Math.round((ok[i]! / n) * 1000) / 10))] },
    latency: { title: `${destination}: request latency`, unit: 'ms', labels: ['p50', 'p99'], data: [t, lat.map((m) => latencyQuantile(m, 0.5)), lat.map((m) => latencyQuantile(m, 0.99))] },
  };
}

/** For a <script type="application/json">: raw JSON that cannot close the script element. */
export function embedJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}
