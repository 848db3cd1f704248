// The index-lag check stops for good: a check in flight at stop() schedules no other (one
// did, reconnected the closed admin client, and kept the process alive polling Kafka).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin } from 'kafkajs';
import pino from 'pino';
import { createMetricsRegistry } from '@hookyard/core';
import { Freshness } from '../../../services/console/src/freshness.ts';

test('stop() waits for the check in flight and starts no other', async () => {
  let calls = 0;
  let release!: () => void;
  const admin = {
    fetchOffsets: async ({ topics }: { topics: string[] }) => {
      calls++;
      await new Promise<void>((r) => { release = r; });
      return topics.map((topic) => ({ topic, partitions: [{ partition: 0, offset: '3' }] }));
    },
    fetchTopicOffsets: async () => [{ partition: 0, offset: '5', high: '5', low: '0' }],
  } as unknown as Admin;
  const f = new Freshness(admin, 'g', () => ['t'], createMetricsRegistry('test'), pino({ level: 'silent' }));
  f.start(10);
  assert.equal(calls, 1);
  const stopped = f.stop();
  let done = false;
  void stopped.then(() => { done = true; });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(done, false, 'stop waits for the check in flight');
  release();
  await stopped;
  assert.deepEqual(f.current().lag, { t: 2 });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls, 1, 'no check after stop');
});
