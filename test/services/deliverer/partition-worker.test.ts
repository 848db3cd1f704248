// The partition worker: concurrency, per-key order, the committed prefix, backpressure,
// revocation and draining. Pure logic, so fake tasks and a recorded commit function.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PartitionWorker, type PartitionWorkerOptions } from '../../../services/deliverer/src/partition-worker.ts';

function worker(over: Partial<PartitionWorkerOptions> = {}): { w: PartitionWorker; commits: number[]; stop: AbortController } {
  const commits: number[] = [];
  const stop = new AbortController();
  const w = new PartitionWorker({
    concurrency: 4, maxPending: 100, ordered: false, signal: stop.signal, retryDelayMs: 10,
    commit: async (n) => { commits.push(n); },
    onTaskError: () => {},
    ...over,
  });
  return { w, commits, stop };
}

function gate(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => { open = r; });
  return { open, wait };
}

test('commits only the contiguous prefix of finished records', async () => {
  const { w, commits } = worker();
  const g = gate();
  w.push(10, 'a', () => g.wait);
  w.push(11, 'b', async () => {});
  w.push(12, 'c', async () => {});
  await sleep(20);
  assert.deepEqual(commits, [], 'nothing past an unfinished record');
  g.open();
  await sleep(20);
  assert.equal(commits.at(-1), 13);
  assert.equal(w.pending, 0);
});

test('runs at most `concurrency` slots at once', async () => {
  const { w } = worker({ concurrency: 3 });
  let running = 0;
  let peak = 0;
  for (let i = 0; i < 20; i++) {
    w.push(i, String(i), (ctx) => ctx.slot(async () => {
      peak = Math.max(peak, ++running);
      await sleep(5);
      running--;
    }));
  }
  await w.drain(5000);
  assert.equal(peak, 3);
});

test('ordered: one key runs in order and waits behind its head; other keys pass', async () => {
  const { w, commits } = worker({ ordered: true });
  const seen: string[] = [];
  const g = gate();
  w.push(0, 'stuck', async () => { await g.wait; seen.push('stuck-0'); });
  w.push(1, 'stuck', async () => { seen.push('stuck-1'); });
  w.push(2, 'free', async () => { seen.push('free-2'); });
  w.push(3, 'stuck', async () => { seen.push('stuck-3'); });
  w.push(4, 'free', async () => { seen.push('free-4'); });
  await sleep(20);
  assert.deepEqual(seen, ['free-2', 'free-4']);
  assert.deepEqual(commits, []);
  g.open();
  await sleep(20);
  assert.deepEqual(seen, ['free-2', 'free-4', 'stuck-0', 'stuck-1', 'stuck-3']);
  assert.equal(commits.at(-1), 5);
});

test('ordered: a record that released its key lets the next one start, and is committed only when it ends', async () => {
  const { w, commits } = worker({ ordered: true });
  const seen: string[] = [];
  const bookkeeping = gate();
  w.push(0, 'k', async (ctx) => { seen.push('k-0 delivered'); ctx.releaseKey(); await bookkeeping.wait; seen.push('k-0 done'); });
  w.push(1, 'k', async () => { seen.push('k-1'); });
  w.push(2, 'k', async () => { seen.push('k-2'); });
  await sleep(20);
  assert.deepEqual(seen, ['k-0 delivered', 'k-1', 'k-2'], 'the key moved on once its head was delivered');
  assert.deepEqual(commits, [], 'nothing committed past the unfinished head');
  bookkeeping.open();
  await sleep(20);
  assert.equal(commits.at(-1), 3);
});

test('ordered: without releaseKey the key waits for the whole task, even when the task fails and runs again', async () => {
  const { w } = worker({ ordered: true });
  const seen: string[] = [];
  let tries = 0;
  w.push(0, 'k', async () => { tries++; seen.push(`k-0 try ${tries}`); if (tries < 3) throw new Error('Kafka down'); });
  w.push(1, 'k', async () => { seen.push('k-1'); });
  await sleep(100);
  assert.deepEqual(seen, ['k-0 try 1', 'k-0 try 2', 'k-0 try 3', 'k-1']);
});

test('a failing task is run again, and its record is not committed until it succeeds', async () => {
  const errors: number[] = [];
  const { w, commits } = worker({ onTaskError: (_e, o) => errors.push(o) });
  let tries = 0;
  w.push(7, 'k', async () => { if (++tries < 3) throw new Error('registry down'); });
  await sleep(100);
  assert.equal(tries, 3);
  assert.deepEqual(errors, [7, 7]);
  assert.deepEqual(commits, [8]);
});

test('backpressure: hasRoom turns false at maxPending and waitForRoom wakes when records finish', async () => {
  const { w } = worker({ maxPending: 2 });
  const g = gate();
  w.push(0, 'a', () => g.wait);
  w.push(1, 'b', () => g.wait);
  assert.equal(w.hasRoom(), false);
  const t0 = Date.now();
  setTimeout(g.open, 50);
  await w.waitForRoom(5000);
  assert.ok(w.hasRoom());
  assert.ok(Date.now() - t0 < 1000);
});

test('revoked: waiting work stops, nothing more is committed', async () => {
  const { w, commits } = worker({ ordered: true });
  const g = gate();
  let ran = false;
  w.push(0, 'k', () => g.wait);
  w.push(1, 'k', async () => { ran = true; });
  w.revoke();
  g.open();
  await sleep(20);
  assert.equal(ran, false, 'the follower was handed back');
  assert.deepEqual(commits, []);
});

test('drain: in-flight work finishes and is committed; queued work is handed back; the deadline holds', async () => {
  const { w, commits, stop } = worker({ concurrency: 1 });
  let second = false;
  w.push(0, 'a', (ctx) => ctx.slot(() => sleep(50)));
  w.push(1, 'b', (ctx) => ctx.slot(async () => { second = true; }));
  await sleep(5);
  stop.abort();
  const r = await w.drain(2000);
  assert.equal(second, false);
  assert.deepEqual(commits, [1]);
  assert.equal(r.unfinished, 1);

  const slow = worker();
  slow.w.push(0, 'a', () => sleep(5000));
  slow.stop.abort();
  const t0 = Date.now();
  const r2 = await slow.w.drain(100);
  assert.ok(Date.now() - t0 < 1000, 'drain returns at its deadline');
  assert.equal(r2.unfinished, 1);
});

test('finished records behind a waiting one do not use up the room; the offset span is bounded', async () => {
  const { w } = worker({ maxPending: 2, ordered: true });
  const g = gate();
  w.push(0, 'stuck', () => g.wait);
  for (let i = 1; i <= 50; i++) w.push(i, `k${i}`, async () => {});
  await sleep(10);
  assert.equal(w.pending, 1, 'one unfinished record');
  assert.equal(w.hasRoom(), true);
  for (let i = 51; i < 100; i++) w.push(i, `k${i}`, async () => {});
  await sleep(10);
  assert.equal(w.hasRoom(), false, '100 offsets behind the waiting one: 50 × maxPending');
  g.open();
  await sleep(10);
  assert.equal(w.hasRoom(), true);
});

test('a paused fetch resumes once a quarter of the room is free, not at the first finished record', async () => {
  const { w } = worker({ maxPending: 8, concurrency: 8 });
  const gates = Array.from({ length: 8 }, () => gate());
  gates.forEach((g, i) => w.push(i, `k${i}`, () => g.wait));
  assert.equal(w.hasRoom(), false);
  let woken = false;
  w.onRoom(() => { woken = true; });
  gates[0]!.open();
  await sleep(10);
  assert.equal(woken, false, 'one free slot of eight: still paused');
  gates[1]!.open();
  await sleep(10);
  assert.equal(woken, true, 'two of eight free: resumed');
  for (const g of gates) g.open();
});

test('offsets with nothing to deliver (commit markers) are committed past once what precedes them finished', async () => {
  const { w, commits } = worker();
  const g = gate();
  w.push(10, 'a', () => g.wait);
  w.push(11, 'b', async () => {});
  assert.equal(w.skip(12, 14), true, 'joins what was pushed');
  await sleep(20);
  assert.deepEqual(commits, [], 'not past an unfinished record');
  g.open();
  await sleep(20);
  assert.equal(commits.at(-1), 14, 'past the markers, not at them');
  assert.equal(w.skip(20, 22), false, 'a gap (offsets never seen) is never skipped');
  assert.equal(w.skip(14, 16), true);
  await sleep(20);
  assert.equal(commits.at(-1), 16, 'markers alone, nothing pending: committed at once');
});

test('a worker that has seen nothing skips only from the offset the group committed', async () => {
  const { w, commits } = worker();
  assert.equal(w.seenAny, false);
  assert.equal(w.skip(5, 6), false, 'no known position: refused');
  assert.equal(w.skip(5, 6, 4), false, 'committed 4, markers from 5: offset 4 unseen, refused');
  const { w: w2, commits: c2 } = worker();
  assert.equal(w2.skip(5, 6, 5), true);
  await sleep(20);
  assert.deepEqual(c2, [6]);
  assert.deepEqual(commits, []);
});
