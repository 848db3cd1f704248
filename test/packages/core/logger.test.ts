// The per-request lazy child logger: bound and redacted like pino's own child, made only
// when a request logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import Fastify, { LogController } from 'fastify';
import { REDACT_PATHS, lazyChildLoggerFactory, type Logger } from '@hookyard/core';

function capture(level = 'info'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
  return { log: pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink), lines };
}

test('a request that logs gets its reqId binding and redaction; one that does not makes no child', async () => {
  const { log, lines } = capture();
  let children = 0;
  const child = log.child.bind(log);
  log.child = ((b: never, o: never) => { children++; return child(b, o); }) as typeof log.child;
  const app = Fastify({ loggerInstance: log, childLoggerFactory: lazyChildLoggerFactory as never, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/quiet', async () => 'ok');
  app.get('/loud', async (req) => {
    req.log.warn({ headers: { authorization: 'Bearer s3cret' } }, 'something happened');
    req.log.debug('below the level: not written, and no child made for it');
    return 'ok';
  });
  await app.ready();
  children = 0; // fastify makes one child of its own at start
  for (let i = 0; i < 50; i++) assert.equal((await app.inject('/quiet')).body, 'ok');
  assert.equal(children, 0, 'quiet requests made no child logger');
  await app.inject('/loud');
  await new Promise((r) => setImmediate(r));
  assert.equal(children, 1);
  const line = lines.find((l) => l.msg === 'something happened');
  assert.ok(line, 'logged');
  assert.equal(typeof line.reqId, 'string');
  assert.deepEqual(line.headers, { authorization: '[redacted]' });
  assert.equal(lines.some((l) => String(l.msg).includes('below the level')), false);
  await app.close();
});

test('with request logging on, fastify\'s request and error lines carry the reqId', async () => {
  const { log, lines } = capture();
  const app = Fastify({ loggerInstance: log, childLoggerFactory: lazyChildLoggerFactory as never });
  app.get('/boom', async () => { throw new Error('kaput'); });
  assert.equal((await app.inject('/boom')).statusCode, 500);
  await new Promise((r) => setImmediate(r));
  const line = lines.find((l) => (l.err as { message?: string } | undefined)?.message === 'kaput');
  assert.ok(line, 'fastify logged the error');
  assert.equal(typeof line.reqId, 'string');
  assert.equal(lines.find((l) => l.msg === 'incoming request')?.reqId, line.reqId);
  await app.close();
});
