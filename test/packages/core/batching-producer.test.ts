// The batcher's deadline withdraws only messages that were never sent: a caller told
// "failed" must not find its message written later by a batch nobody waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Producer, ProducerBatch } from 'kafkajs';
import { BatchingProducer, NotSentError } from '@hookyard/core';

/** A producer whose sendBatch calls stay open until the test settles them. */
function slowProducer() {
  const calls: { batch: ProducerBatch; settle: (ok: boolean) => void }[] = [];
  const producer = {
    sendBatch: (batch: ProducerBatch) => new Promise((resolve, reject) => {
      calls.push({ batch, settle: (ok) => (ok ? resolve([]) : reject(new Error('broker gone'))) });
    }),
  } as unknown as Producer;
  const values = () => calls.flatMap((c) => c.batch.topicMessages!.flatMap((t) => t.messages.map((m) => String(m.value))));
  return { producer, calls, values };
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
