// The batcher's deadline withdraws only messages that were never sent: a caller told
// "failed" must not find its message written later by a batch nobody waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Producer, ProducerBatch } from 'kafkajs';
import { BatchingProducer, NotSentError } from '@hookyard/core';

/** A producer whose sendBatch calls stay open until the test settles them. */
function slowProducer() {
  const calls: { batch: ProducerBatch; settle: (ok: boolean, err?: Error) => void }[] = [];
  const state = { connected: false, disconnected: false };
  const producer = {
    sendBatch: (batch: ProducerBatch) => new Promise((resolve, reject) => {
      calls.push({ batch, settle: (ok, err) => (ok ? resolve([]) : reject(err ?? new Error('broker gone'))) });
    }),
    connect: async () => { state.connected = true; },
    disconnect: async () => { state.disconnected = true; },
  } as unknown as Producer;
  const values = () => calls.flatMap((c) => c.batch.topicMessages!.flatMap((t) => t.messages.map((m) => String(m.value))));
  return { producer, calls, values, state };
}

// The batcher flushes on setImmediate; a timer of 0 can fire before it.
const tick = (ms = 0) => new Promise((r) => (ms === 0 ? setImmediate(() => setImmediate(r)) : setTimeout(r, ms)));

test('a message still queued at its deadline is withdrawn unsent; one in flight waits for its batch', async () => {
  const { producer, calls, values } = slowProducer();
  const b = new BatchingProducer(producer, { maxBatch: 10, timeoutMs: 1000 });
  const first = b.send('t', { value: 'in-flight' }, 50);
  await tick();
  assert.equal(calls.length, 1, 'the first message went out at once');
  const second = b.send('t', { value: 'queued' }, 50);
  await assert.rejects(second, NotSentError);
  let firstDone = false;
  void first.then(() => { firstDone = true; });
  await tick(80);
  assert.equal(firstDone, false, 'a sent message is not abandoned at its deadline');
  calls[0]!.settle(true);
  await first;
  await tick();
  assert.equal(calls.length, 1, 'the withdrawn message is never sent');
  assert.deepEqual(values(), ['in-flight']);
});

test('queued messages with different deadlines are each withdrawn at their own (one sweep timer for all)', async () => {
  const { producer, calls, values } = slowProducer();
  const b = new BatchingProducer(producer, { maxBatch: 10, timeoutMs: 1000 });
  const inFlight = b.send('t', { value: 'in-flight' });
  await tick();
  const t0 = Date.now();
  const settled = new Map<string, number>();
  const track = (name: string, p: Promise<void>) => p.then(() => settled.set(name, -1), (e: unknown) => settled.set(name, e instanceof NotSentError ? Date.now() - t0 : -2));
  // Later deadlines first: an earlier one queued after them must still be kept.
  const late = track('late', b.send('t', { value: 'late' }, 200));
  const none = track('none', b.send('t', { value: 'none' }));
  const early = track('early', b.send('t', { value: 'early' }, 30));
  await early;
  assert.ok(settled.get('early')! >= 25 && settled.get('early')! < 150, `early withdrawn after ${settled.get('early')} ms`);
  assert.equal(settled.has('late'), false, 'the later deadline is not yet due');
  await late;
  assert.ok(settled.get('late')! >= 195, `late withdrawn after ${settled.get('late')} ms`);
  calls[0]!.settle(true);
  await inFlight;
  await tick();
  assert.equal(calls.length, 2);
  calls[1]!.settle(true);
  await none;
  assert.equal(settled.get('none'), -1, 'a message without a deadline waits and is sent');
  assert.deepEqual(values(), ['in-flight', 'none']);
});

test('a failed batch fails each of its callers; the next batch carries the rest', async () => {
  const { producer, calls, values } = slowProducer();
  const b = new BatchingProducer(producer, { maxBatch: 10, timeoutMs: 1000 });
  const a = b.send('t', { value: 'a' }, 1000);
  await tick();
  const c = b.send('t', { value: 'c' }, 1000);
  const d = b.send('u', { value: 'd' }, 1000);
  calls[0]!.settle(false);
  await assert.rejects(a, /broker gone/);
  await tick();
  assert.equal(calls.length, 2);
  calls[1]!.settle(true);
  await Promise.all([c, d]);
  assert.deepEqual(values(), ['a', 'c', 'd']);
});

test('after a failed batch the next one goes out on a fresh producer (kafkajs would re-use sequence numbers)', async () => {
  const first = slowProducer();
  const second = slowProducer();
  const unreachable = slowProducer();
  (unreachable.producer as unknown as { connect: () => Promise<void> }).connect = async () => { throw new Error('ECONNREFUSED'); };
  const fresh = [unreachable, second];
  const b = new BatchingProducer(first.producer, { maxBatch: 10, timeoutMs: 1000, renew: () => fresh.shift()!.producer });
  let renewed: Producer | undefined;
  b.onRenew = (p) => { renewed = p; };
  const a = b.send('t', { value: 'a' }, 1000);
  await tick();
  first.calls[0]!.settle(false, Object.assign(new Error('The request timed out'), { type: 'REQUEST_TIMED_OUT' }));
  await assert.rejects(a, /timed out/);
  // Kafka unreachable: the batch is refused unsent rather than sent on the stale producer.
  const c = b.send('t', { value: 'c' }, 1000);
  await assert.rejects(c, NotSentError);
  assert.equal(first.calls.length, 1, 'nothing sent on the stale producer');
  assert.equal(b.current, first.producer);
  const d = b.send('t', { value: 'd' }, 1000);
  await tick();
  assert.equal(b.current, second.producer, 'a new producer (new id, fresh sequences)');
  assert.equal(renewed, second.producer);
  assert.ok(second.state.connected && first.state.disconnected);
  assert.equal(second.calls.length, 1, 'the batch went out on the new producer');
  second.calls[0]!.settle(true);
  await d;
  assert.deepEqual(second.values(), ['d']);
});
