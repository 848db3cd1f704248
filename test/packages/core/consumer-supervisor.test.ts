// A consumer kafkajs will not restart (a non-retriable crash) is started again by the
// supervisor; a retriable crash is left to kafkajs; nothing restarts after stop().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import { pino } from 'pino';
import { runSupervised } from '@hookyard/core';

function fakeConsumer() {
  const bus = new EventEmitter();
  const calls: string[] = [];
  const consumer = {
    events: { CRASH: 'consumer.crash' },
    on: (e: string, fn: (ev: unknown) => void) => bus.on(e, fn),
    connect: async () => { calls.push('connect'); },
    run: async () => { calls.push('run'); },
    disconnect: async () => { calls.push('disconnect'); },
  } as unknown as Consumer;
  const crash = (restart: boolean) => bus.emit('consumer.crash', { payload: { error: new Error('Failed to find group coordinator'), restart } });
  return { consumer, calls, crash };
}

const log = pino({ level: 'silent' });

test('a non-retriable crash is followed by connect and run again; a retriable one is kafkajs\'s to restart', async () => {
  const { consumer, calls, crash } = fakeConsumer();
  let restarted = 0;
  const s = await runSupervised(consumer, {}, log, 'test', () => { restarted++; });
  assert.deepEqual(calls, ['run']);
  crash(true);
  await new Promise((r) => setTimeout(r, 700));
  assert.deepEqual(calls, ['run'], 'kafkajs restarts retriable crashes itself');
  crash(false);
  await new Promise((r) => setTimeout(r, 700));
  assert.deepEqual(calls, ['run', 'connect', 'run']);
  assert.equal(restarted, 1);
  assert.equal(s.restarts(), 1);
  s.stop();
  crash(false);
  await new Promise((r) => setTimeout(r, 700));
  assert.deepEqual(calls, ['run', 'connect', 'run'], 'no restart after stop()');
});
