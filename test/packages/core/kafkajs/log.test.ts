// kafkajs's log bridge: routine start-up and rebalance chatter below warn unless it lasts,
// real failures at error as one line, repeats folded. Pure logic: a fake clock and a
// pino logger writing to an array.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { logLevel } from 'kafkajs';
import { kafkajsLogCreator, transientKind } from '../../../../packages/core/src/kafkajs/log.ts';

interface Line { level: number; msg: string; [k: string]: unknown }

function bridge(opts: { deadlineMs?: number; quietMs?: number } = {}) {
  const lines: Line[] = [];
  const sink = new Writable({ write(c: Buffer, _e, cb) { lines.push(JSON.parse(c.toString()) as Line); cb(); } });
  let t = 1_000_000;
  const log = kafkajsLogCreator(pino({ level: 'debug' }, sink), { now: () => t, deadlineMs: opts.deadlineMs ?? 30_000, quietMs: opts.quietMs ?? 10_000 })(logLevel.WARN);
  const entry = (level: logLevel, message: string, extra: Record<string, unknown> = {}) =>
    log({ namespace: 'x', level, label: 'ERROR', log: { timestamp: 'now', message, ...extra } });
  return { lines, entry, advance: (ms: number) => { t += ms; } };
}

test('what kafkajs says while a broker starts or a group rebalances is routine', () => {
  for (const text of [
    'Crash: KafkaJSProtocolError: The coordinator is loading and hence can\'t process requests for this group',
    'Response GroupCoordinator(key: 10, version: 2): The group coordinator is not available',
    'Response ListOffsets(key: 2, version: 3): This server is not the leader for that topic-partition',
    'Response Metadata(key: 3, version: 6): This server does not host this topic-partition',
    'Response CreateTopics(key: 19, version: 3): Topic creation errors',
    '[Runner] The group is rebalancing, re-joining',
    'Restarting the consumer in 100ms',
    'Response InitProducerId(key: 22, version: 1): This is not the correct coordinator for this group',
  ]) assert.ok(transientKind(text), text);
  for (const text of [
    'Connection error: connect ECONNREFUSED 127.0.0.1:9092',
    'Response SaslAuthenticate(key: 36, version: 1): Request is not authorized',
    'Crash: KafkaJSNonRetriableError: Topic authorization failed',
  ]) assert.equal(transientKind(text), undefined, text);
});

test('routine conditions are debug; one that outlasts the deadline gets one error line, then one info when it clears', async () => {
  const { lines, entry, advance } = bridge({ deadlineMs: 3_000, quietMs: 150 });
  entry(logLevel.ERROR, 'Response Metadata(key: 3, version: 6)', { error: 'This server does not host this topic-partition', broker: 'b:1', stack: 'Error\n at x' });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 20, 'debug');
  assert.equal(lines[0]!.stack, undefined, 'no stack');
  assert.equal(lines[0]!.broker, 'b:1');
  for (let s = 0; s < 31; s++) {
    advance(100);
    entry(logLevel.ERROR, 'Response Metadata(key: 3, version: 6)', { error: 'This server does not host this topic-partition' });
  }
  const errors = lines.filter((l) => l.level === 50);
  assert.equal(errors.length, 1, 'once, not for every retry');
  assert.match(errors[0]!.msg, /^kafka not healthy for 3 s: a topic is not yet known to the broker/);
  assert.equal(errors[0]!.seconds, 3);
  await sleep(300);
  const info = lines.filter((l) => l.level === 30);
  assert.equal(info.length, 1);
  assert.match(info[0]!.msg, /^kafka recovered: a topic is not yet known to the broker \(lasted 3 s\)/);
});

test('a routine condition that comes and goes never reaches error', () => {
  const { lines, entry, advance } = bridge({ deadlineMs: 30_000, quietMs: 10_000 });
  for (let i = 0; i < 10; i++) {
    entry(logLevel.ERROR, 'Crash: KafkaJSProtocolError: The coordinator is loading and hence can\'t process requests for this group');
    advance(5_000);
    entry(logLevel.ERROR, 'Restarting the consumer in 100ms');
    advance(20_000); // quiet long enough: a new episode each time
  }
  assert.deepEqual(lines.filter((l) => l.level > 20), []);
});

test('a real failure stays at error, as one line; repeats within seconds are folded into a count', () => {
  const { lines, entry, advance } = bridge();
  for (let i = 0; i < 5; i++) {
    entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092', stack: 'Error: x\n    at y' });
    advance(500);
  }
  advance(6_000);
  entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092' });
  const errors = lines.filter((l) => l.level === 50);
  assert.equal(errors.length, 2);
  assert.equal(errors[0]!.msg, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  assert.equal(errors[0]!.stack, undefined);
  assert.equal(errors[1]!.repeated, 4, 'the four folded ones are counted on the next line');
  entry(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', { error: 'Request is not authorized' });
  assert.equal(lines.at(-1)!.msg, 'Response Produce(key: 0, version: 7): Request is not authorized');
  assert.equal(lines.at(-1)!.level, 50);
});

test('warnings about what hookyard chose on purpose are debug; other warnings stay warnings', () => {
  const { lines, entry } = bridge();
  entry(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees');
  entry(logLevel.WARN, 'Something else worth a look');
  assert.deepEqual(lines.map((l) => l.level), [20, 40]);
});
