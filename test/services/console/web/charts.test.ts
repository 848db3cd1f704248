import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATENCY_BOUNDS } from '../../../../services/console/src/store/driver.ts';
import { chartWindow, destinationCharts, embedJson, endToEndCharts, errorRates, latencyQuantile, throughput } from '../../../../services/console/src/web/charts.ts';

const now = Date.UTC(2026, 11, 7, 12, 3);

test('a window is 60 round buckets ending after now; an unknown label is 6h', () => {
  const w = chartWindow('1h', now);
  assert.deepEqual(w, { from: Date.UTC(2026, 11, 7, 11, 4), to: Date.UTC(2026, 11, 7, 12, 4), bucketMs: 60_000, label: '1h' });
  assert.equal(chartWindow('<script>', now).label, '6h');
  assert.equal(chartWindow(undefined, now).bucketMs, 360_000);
});

test('latency quantiles come from bucket counts: the bucket upper bound, the open bucket its lower', () => {
  const m = new Map([[0, 50], [3, 49], [LATENCY_BOUNDS.length - 1, 1]]);
  assert.equal(latencyQuantile(m, 0.5), 5);
  assert.equal(latencyQuantile(m, 0.99), 50);
  assert.equal(latencyQuantile(m, 1), 30_000);
  assert.equal(latencyQuantile(new Map(), 0.5), null);
});

test('series cover every bucket: quiet buckets are 0 for counts, null (no data) for rates and latency', () => {
  const w = chartWindow('1h', now);
  const t = throughput(w, { received: [{ bucket: w.from, source: 's', count: 3 }], deliveries: [] }, [{ bucket: w.from + 60_000, destination: 'd', success: true, latencyBucket: 2, count: 2 }]);
  assert.deepEqual(t.labels, ['in (received)', 'out (delivered)']);
  assert.equal(t.data[0]!.length, 60);
  assert.deepEqual(t.data[1]!.slice(0, 3), [3, 0, 0]);
  assert.deepEqual(t.data[2]!.slice(0, 3), [0, 2, 0]);
  const d = destinationCharts(w, [
    { bucket: w.from, destination: 'd', success: true, latencyBucket: 1, count: 3 },
    { bucket: w.from, destination: 'd', success: false, latencyBucket: 6, count: 1 },
    { bucket: w.from, destination: 'other', success: false, latencyBucket: 0, count: 9 },
  ], 'd');
  assert.deepEqual(d.success.data[1]!.slice(0, 2), [75, null]);
  assert.deepEqual([d.latency.data[1]![0], d.latency.data[2]![0]], [10, 500]);
  const e2e = endToEndCharts(w, [{ bucket: w.from, source: 's', destination: 'd', latencyBucket: 4, count: 1 }]);
  assert.deepEqual(e2e.map((c) => c.title), ['s → d: end-to-end latency']);
  assert.equal(e2e[0]!.data[1]![0], 100);
});

test('JSON embedded in a page cannot close its script element', () => {
  const s = embedJson({ title: '</script><script>alert(1)</script>&' });
  assert.ok(!s.includes('<') && !s.includes('>') && !s.includes('&'));
  assert.deepEqual(JSON.parse(s), { title: '</script><script>alert(1)</script>&' });
});

test('error rate: refused share of a source\'s requests, failed share of a destination\'s attempts; nothing in a bucket is a gap', () => {
  const w = chartWindow('1h', now);
  const c = errorRates(w, { received: [{ bucket: w.from, source: 'shop', count: 3 }], deliveries: [] }, [
    { bucket: w.from, destination: 'billing', success: true, latencyBucket: 1, count: 3 },
    { bucket: w.from, destination: 'billing', success: false, latencyBucket: 1, count: 1 },
    { bucket: w.from + 60_000, destination: 'billing', success: false, latencyBucket: 1, count: 2 },
  ], [{ receivedAt: w.from + 5, source: 'shop' }]);
  assert.deepEqual(c.labels, ['shop (refused)', '→ billing (failed attempts)']);
  assert.equal(c.unit, '%');
  assert.deepEqual(c.data[1]!.slice(0, 3), [25, null, null]);
  assert.deepEqual(c.data[2]!.slice(0, 3), [25, 100, null]);
});
