// Which issue a failure belongs to (pure): stable ids, titles, one occurrence per record;
// when an issue may have recovered; which alerts of a flapping issue go out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planAlerts } from '../../../services/console/src/alert-publisher.ts';
import { backlogCheckEveryMs } from '../../../services/console/src/backlog-watch.ts';
import { backlogOccurrence, deliveryOccurrence, errorClass, failedReceiptOccurrence, issueId, refusalOccurrence, transformOccurrences } from '../../../services/console/src/issues.ts';
import { recoveryQuestion } from '../../../services/console/src/recovery.ts';
import type { AttemptRow, IssueChangeRecord, IssueRow } from '../../../services/console/src/store/driver.ts';

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

const issueRow = (over: Partial<IssueRow>): IssueRow => ({
  id: 'i1', kind: 'delivery', target: 'billing', title: 'billing: HTTP 500', firstSeen: 0, lastSeen: 100_000, count: 3, events: 2, sampleEventId: null, sample: '',
  state: 'open', stateAt: 0, stateBy: null, reopened: 0, ...over,
});
const rules = { quietMs: 60_000, thresholds: { refusal: { count: 10, windowMs: 60_000 }, dead_letters: { count: 5, windowMs: 3_600_000 } } };

test('recovery: a delivery or receipts issue asks for work since its last failure, once quiet; a rate issue for its window under the threshold; others and ignored ones never', () => {
  assert.equal(recoveryQuestion(issueRow({}), 159_999, rules), null, 'not quiet long enough');
  assert.deepEqual(recoveryQuestion(issueRow({}), 160_000, rules), { ask: 'worked', destination: 'billing', what: 'delivered', since: 100_000 });
  assert.deepEqual(recoveryQuestion(issueRow({ state: 'acknowledged' }), 160_000, rules), { ask: 'worked', destination: 'billing', what: 'delivered', since: 100_000 });
  assert.deepEqual(recoveryQuestion(issueRow({ kind: 'receipts', target: 'ledger' }), 200_000, rules), { ask: 'worked', destination: 'ledger', what: 'applied', since: 100_000 });
  assert.deepEqual(recoveryQuestion(issueRow({ kind: 'refusal', target: 'stripe' }), 200_000, rules), { ask: 'fewer', since: 140_000, below: 10 });
  assert.deepEqual(recoveryQuestion(issueRow({ kind: 'dead_letters' }), 4_000_000, rules), { ask: 'fewer', since: 400_000, below: 5 });
  for (const state of ['ignored', 'resolved'] as const) assert.equal(recoveryQuestion(issueRow({ state }), 10_000_000, rules), null, state);
  for (const kind of ['transform', 'breaker', 'paused', 'ingress', 'backpressure'] as const) assert.equal(recoveryQuestion(issueRow({ kind }), 10_000_000, rules), null, `${kind}: not checked here`);
  assert.equal(backlogCheckEveryMs(300), 30_000);
  assert.equal(backlogCheckEveryMs(8), 2_000);
  assert.equal(backlogCheckEveryMs(1), 1_000);
});

test('a failed receipt is an occurrence of its destination\'s failed-receipts issue, once per receipt record; an applied one is none', () => {
  const r = { kafka: { topic: 'receipts', partition: 0, offset: '4' }, receiptId: 'msg_1', eventId: 'e1', destination: 'ledger', status: 'failed' as const, detail: 'ledger closed', at: 5000 };
  const o = failedReceiptOccurrence(r)!;
  assert.deepEqual([o.issueId, o.kind, o.target, o.title, o.occurrence, o.eventId, o.at, o.sample],
    [issueId('receipts', 'ledger', 'failed'), 'receipts', 'ledger', 'ledger: receipts say events failed to apply', 'receipts/0/4', 'e1', 5000, 'ledger closed']);
  assert.notEqual(o.issueId, issueId('receipts', 'ledger', 'sla'), 'not the SLA issue');
  assert.equal(failedReceiptOccurrence({ ...r, status: 'applied' }), null);
});

test('alerts of a flapping issue: a reopen waits out the interval since the last opened/reopened alert; a resolve meanwhile withdraws both; order kept', () => {
  const MIN = 60_000;
  let seq = 0;
  const ch = (issueId: string, change: IssueChangeRecord['change'], lastAlertAt: number | null): IssueChangeRecord => ({ seq: ++seq, issueId, change, at: 0, eventId: `e${seq}`, lastAlertAt });
  const seqs = (l: IssueChangeRecord[]) => l.map((c) => c.seq);
  // Opened and resolved go out at once; a reopen long after the last alert too.
  const calm = [ch('a', 'opened', null), ch('b', 'resolved', 0), ch('c', 'reopened', 0)];
  assert.deepEqual(seqs(planAlerts(calm, 10 * MIN, 5 * MIN).send), seqs(calm));
  // Reopened 2 minutes after the alert: waits, and so does what follows it (nothing here).
  const early = [ch('a', 'reopened', 8 * MIN)];
  assert.deepEqual(planAlerts(early, 10 * MIN, 5 * MIN), { send: [], withdraw: [] });
  // Still open once the interval has passed: sent then.
  assert.deepEqual(seqs(planAlerts(early, 13 * MIN, 5 * MIN).send), seqs(early));
  // Resolved again meanwhile: the reopen and the resolve are withdrawn; another issue's changes are not held up.
  const flap = [ch('a', 'reopened', 8 * MIN), ch('z', 'opened', null), ch('a', 'resolved', 8 * MIN), ch('a', 'reopened', 8 * MIN)];
  const p = planAlerts(flap, 10 * MIN, 5 * MIN);
  assert.deepEqual(seqs(p.withdraw), [flap[0]!.seq, flap[2]!.seq]);
  assert.deepEqual(seqs(p.send), [flap[1]!.seq], 'the second reopen waits');
  // Several cycles pending at once (the outbox backed up): the first opening goes, the cycles after it cancel.
  const backlog = [ch('q', 'opened', null), ch('q', 'resolved', null), ch('q', 'reopened', null), ch('q', 'resolved', null), ch('q', 'reopened', null), ch('q', 'resolved', null)];
  const b = planAlerts(backlog, 0, 5 * MIN);
  assert.deepEqual(seqs(b.send), seqs(backlog.slice(0, 2)));
  assert.deepEqual(seqs(b.withdraw), seqs(backlog.slice(2)));
  // 0: no throttling.
  assert.deepEqual(seqs(planAlerts(early, 8 * MIN, 0).send), seqs(early));
});
