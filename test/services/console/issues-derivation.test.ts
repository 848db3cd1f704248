// Which issue a failure belongs to (pure): stable ids, titles, one occurrence per record.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backlogOccurrence, deliveryOccurrence, errorClass, issueId, refusalOccurrence, transformOccurrences } from '../../../services/console/src/issues.ts';
import type { AttemptRow } from '../../../services/console/src/store/driver.ts';

const attempt = (over: Partial<AttemptRow>): AttemptRow => ({
  kafka: { topic: 'delivery-attempts', partition: 1, offset: '7' }, eventId: 'e1', destination: 'billing', attempt: 1, at: 1000, status: 500, outcome: 'retry',
  latencyMs: 3, error: '500 (5xx)', responseSnippet: 'oops', nextAttemptAt: 2000, ...over,
});

test('a failed attempt: destination × HTTP status, or × error class when there is no status', () => {
  const o = deliveryOccurrence(attempt({}))!;
  assert.equal(o.title, 'billing: HTTP 500');
  assert.equal(o.issueId, issueId('delivery', 'billing', 'HTTP 500'));
  assert.equal(o.occurrence, 'delivery-attempts/1/7');
  assert.equal(deliveryOccurrence(attempt({ status: 503 }))!.issueId === o.issueId, false, 'another status, another issue');
  assert.equal(deliveryOccurrence(attempt({ eventId: 'e2', kafka: { topic: 'delivery-attempts', partition: 0, offset: '9' } }))!.issueId, o.issueId, 'another event, the same issue');
  assert.equal(deliveryOccurrence(attempt({ outcome: 'success', status: 200 })), null);
  const t = deliveryOccurrence(attempt({ status: null, error: 'request to http://10.0.0.1:81/ aborted due to timeout' }))!;
  assert.equal(t.title, 'billing: timeout');
  assert.equal(errorClass('connect ECONNREFUSED 127.0.0.1:9'), 'connection refused');
  assert.equal(errorClass('getaddrinfo ENOTFOUND nowhere.invalid'), 'DNS failure');
  assert.equal(errorClass('something odd'), 'error');
});

test('a transform error: connection × the first line of the error; other outcomes none', () => {
  const os = transformOccurrences({ eventId: 'e1', source: 'shop', receivedAt: 1, routedAt: 5, replayId: null, decisions: [
    { destination: 'audit', outcome: 'transform_error', error: 'TypeError: x is undefined\n  at line 3' },
    { destination: 'billing', outcome: 'matched', error: null },
  ] }, { topic: 'routing-decisions', partition: 0, offset: '3' });
  assert.deepEqual(os.map((o) => [o.kind, o.target, o.title, o.occurrence]), [['transform', 'shop → audit', 'shop → audit: TypeError: x is undefined', 'routing-decisions/0/3/audit']]);
});

test('refusals carry their rate threshold; a backlog counts once a minute above its threshold', () => {
  const r = refusalOccurrence({ kafka: { topic: 'ingress-rejections', partition: 0, offset: '1' }, source: 'stripe', receivedAt: 5, status: 401, code: 'UNAUTHORIZED', reason: 'bad_signature', method: 'POST', path: '/webhooks/stripe', remoteIp: '::1', headers: {}, bodySize: 3, bodySha256: null }, 10);
  assert.deepEqual(r.threshold, { count: 10, windowMs: 60_000 });
  assert.equal(r.title, 'stripe: requests refused (bad_signature)');
  assert.equal(backlogOccurrence('billing', 100, 5, 300, 60_000), null);
  const b = backlogOccurrence('billing', 400, 5, 300, 125_000)!;
  assert.equal(b.occurrence, 'backlog/2');
  assert.equal(backlogOccurrence('billing', 401, 5, 300, 179_000)!.occurrence, b.occurrence, 'the same minute: one occurrence');
});
