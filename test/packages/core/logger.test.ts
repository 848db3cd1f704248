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

test('LOG_FORMAT picks json or pretty; unset, a terminal gets pretty and anything else JSON lines', async () => {
  const { logFormat } = await import('@hookyard/core');
  assert.equal(logFormat(1, { LOG_FORMAT: 'json' }), 'json');
  assert.equal(logFormat(1, { LOG_FORMAT: 'Pretty' }), 'pretty');
  // The test runner's stdout is a pipe, not a terminal.
  assert.equal(logFormat(1, {}), 'json');
});

test('pretty logs: one line per entry with time, level, service and fields, errors included, secrets redacted', async () => {
  const { spawnSync } = await import('node:child_process');
  const { join } = await import('node:path');
  const { repoRoot } = await import('../../support/stack.ts');
  const code = `
    import { createLogger } from ${JSON.stringify(join(repoRoot, 'packages/core/src/logger.ts'))};
    const log = createLogger('router', 'info');
    log.info({ group: 'hookyard-router', headers: { authorization: 'Bearer s3cret' } }, 'router consuming');
    log.error({ err: new Error('broker gone\\nsecond line') }, 'could not start');
    log.warn({ note: 'has spaces', n: 3 }, 'two words');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, LOG_FORMAT: 'pretty', NO_COLOR: '1' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3, r.stdout);
  assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(router\): router consuming group=hookyard-router headers=\{"authorization":"\[redacted\]"\}$/);
  assert.match(lines[1]!, /^\[[\d:.]+\] ERROR \(router\): could not start err="Error: broker gone\\nsecond line"$/);
  assert.match(lines[2]!, /WARN \(router\): two words note="has spaces" n=3$/);
  assert.doesNotMatch(r.stdout, /s3cret/);
  const json = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, LOG_FORMAT: 'json' }, encoding: 'utf8' });
  const first = JSON.parse(json.stdout.split('\n')[0]!) as { name: string; msg: string; level: number };
  assert.deepEqual([first.name, first.msg, first.level], ['router', 'router consuming', 30]);
  assert.match(json.stdout.split('\n')[1]!, /"stack":"Error: broker gone/, 'JSON keeps the stack');
});
