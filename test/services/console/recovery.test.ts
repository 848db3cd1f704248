// Issues resolving by themselves, on a real store with an injected clock (the rules wait for
// minutes and hours): a delivery issue once its destination delivered again and stayed quiet
// (acknowledged too, ignored never), dead letters once the hour holds fewer than the
// threshold, receipts issues once a receipt says applied again, ingress once two minutes
// passed without a 503; each resolve goes out as one alert, and a flapping issue's reopen
// waits out alerts.reopenIntervalSeconds (withdrawn with the resolve that follows it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Producer } from 'kafkajs';
import { createMetricsRegistry, type AlertEvent, type EnvelopeCodec, type RawEvent } from '../../../packages/core/src/index.ts';
import { AlertPublisher } from '../../../services/console/src/alert-publisher.ts';
import { DestinationWatch } from '../../../services/console/src/destination-watch.ts';
import { deadLetterOccurrence, deliveryOccurrence, failedReceiptOccurrence, issueId, receiptOccurrence } from '../../../services/console/src/issues.ts';
import { RecoveryWatch } from '../../../services/console/src/recovery.ts';
import { emptyBatch, type AttemptRow, type DeadLetterRow, type IndexStore, type WriteBatch } from '../../../services/console/src/store/driver.ts';
import { attemptRow, eventRow } from '../../../services/console/src/store/drivertest/suite.ts';
import { SqliteStore } from '../../../services/console/src/store/sqlite/store.ts';
import { quietLog, testConfig } from '../../support/stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'hookyard-recovery-'));
let n = 0;
/** A store of its own for `fn` (a real SQLite file), closed after. */
async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const store = new SqliteStore({ path: join(dir, `index-${n++}.db`) });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}
after(() => rmSync(dir, { recursive: true, force: true }));

const batch = (over: Partial<WriteBatch>): WriteBatch => ({ ...emptyBatch(), ...over });
const t0 = Date.UTC(2026, 5, 1, 12);
const url = 'http://127.0.0.1:9/hook';
const config = testConfig({
  sources: [{ name: 'shop' }],
  destinations: ['billing', 'crm', 'audit', 'ledger'].map((name) => ({ name, url, ...(name === 'ledger' ? { receipts: { secret: 'whsec_dGVzdC1yZWNlaXB0cy1zZWNyZXQtMDEyMzQ1Njc4OQ==', slaSeconds: 2 } } : {}) })),
  connections: [{ source: 'shop', destination: 'billing' }],
  console: { issues: { recoveryQuietSeconds: 60, deadLettersPerHour: 3 } },
  alerts: { channels: [{ name: 'oncall', type: 'slack', url }], reopenIntervalSeconds: 300 },
});

/** Failed attempts written and counted into their issues, as the indexer does. */
async function fail(store: IndexStore, attempts: AttemptRow[]): Promise<void> {
  await store.write(batch({ attempts }));
  await store.recordIssues(attempts.map((a) => deliveryOccurrence(a)!));
}
const outbox = async (store: IndexStore) => (await store.unpublishedIssueChanges(100)).map((c) => [c.issueId, c.change]);

test('a delivery issue resolves once its destination delivered after the last failure and no failure came for the quiet period; acknowledged too, ignored never', () => withStore(async (store) => {
  const watch = new RecoveryWatch(config, store, quietLog);
  const e1 = eventRow({ receivedAt: t0 });
  await store.write(batch({ events: [e1] }));
  await fail(store, ['billing', 'crm', 'audit'].map((d) => attemptRow(e1, d, 1, 'retry', 500, t0 + 10)));
  const [billing, crm, audit] = ['billing', 'crm', 'audit'].map((d) => issueId('delivery', d, 'HTTP 500'));
  await store.setIssueState(crm!, 'acknowledged', 'ada', t0 + 20);
  await store.setIssueState(audit!, 'ignored', 'ada', t0 + 20);
  // Quiet, but nothing delivered: a destination nobody sends to has not recovered.
  assert.deepEqual(await watch.check(t0 + 120_000), []);
  // billing fails again, then all three deliver.
  await fail(store, [attemptRow(e1, 'billing', 2, 'retry', 500, t0 + 125_000)]);
  const e2 = eventRow({ receivedAt: t0 + 129_000 });
  await store.write(batch({ events: [e2], attempts: ['billing', 'crm', 'audit'].map((d) => attemptRow(e2, d, 1, 'success', 200, t0 + 130_000)) }));
  const first = await watch.check(t0 + 150_000);
  assert.deepEqual(first.map((i) => i.id), [crm], 'crm: delivered and quiet; billing failed 25 s ago');
  assert.deepEqual([(await store.issue(crm!))!.state, (await store.issue(crm!))!.stateBy], ['resolved', 'hookyard']);
  assert.deepEqual((await watch.check(t0 + 185_000)).map((i) => i.id), [billing]);
  assert.equal((await store.issue(billing!))!.stateBy, 'hookyard');
  assert.equal((await store.issue(audit!))!.state, 'ignored', 'an ignored issue stays ignored');
  assert.deepEqual(await watch.check(t0 + 300_000), [], 'nothing more to resolve');
  // One resolve each in the outbox, for the alerts.
  assert.deepEqual((await outbox(store)).filter(([, c]) => c === 'resolved'), [[crm, 'resolved'], [billing, 'resolved']]);
  // Failing again reopens it (the store's rule), and the next recovery resolves it again.
  await fail(store, [attemptRow(e2, 'billing', 2, 'retry', 500, t0 + 400_000)]);
  assert.equal((await store.issue(billing!))!.state, 'open');
  await store.write(batch({ attempts: [attemptRow(e2, 'billing', 3, 'success', 200, t0 + 401_000)] }));
  assert.deepEqual((await watch.check(t0 + 461_000)).map((i) => i.id), [billing]);
}));

test('dead letters above N an hour resolve once the trailing hour holds fewer than N; one more does not reopen, N within the hour do', () => withStore(async (store) => {
  const watch = new RecoveryWatch(config, store, quietLog);
  let offset = 0;
  const dead = (at: number): DeadLetterRow => ({ kafka: { topic: 'dead-letters', partition: 0, offset: String(offset++) }, eventId: `e${offset}`, source: 'shop', destination: 'billing', receivedAt: at, stage: 'delivery', attempts: 3, lastStatus: 500, lastError: 'HTTP 500', deadAt: at, replayId: null });
  const record = (...ats: number[]) => store.recordIssues(ats.map((at) => deadLetterOccurrence(dead(at), 3)!));
  assert.deepEqual((await record(t0, t0 + 1000, t0 + 2000)).map((c) => c.change), ['opened']);
  const id = issueId('dead_letters', 'billing', 'rate');
  assert.deepEqual(await watch.check(t0 + 1_800_000), [], 'three within the hour');
  assert.deepEqual((await watch.check(t0 + 3_600_500)).map((i) => i.id), [id], 'the first has left the hour: two');
  assert.deepEqual(await record(t0 + 3_700_000), [], 'one more: under the rate, stays resolved');
  assert.equal((await store.issue(id))!.state, 'resolved');
  assert.deepEqual((await record(t0 + 3_710_000, t0 + 3_720_000)).map((c) => c.change), ['reopened']);
}));

test('receipts issues (past the SLA, and receipts saying failed) resolve once a receipt says applied after their last occurrence and it stays quiet', () => withStore(async (store) => {
  const watch = new RecoveryWatch(config, store, quietLog);
  const [e1, e2, e3] = [0, 1000, 200_000].map((d) => eventRow({ receivedAt: t0 + d }));
  const delivered = (e: typeof e1) => batch({ events: [e!], attempts: [attemptRow(e!, 'ledger', 1, 'success', 200, e!.receivedAt + 10)] });
  await store.write(delivered(e1));
  await store.write(delivered(e2));
  const missed = await store.markSlaMisses('ledger', t0 - 1, t0 + 500, t0 + 5000);
  assert.deepEqual(missed.map((m) => m.eventId), [e1!.id]);
  await store.recordIssues(missed.map((m) => receiptOccurrence('ledger', m.eventId, t0 + 5000, 2)));
  const failed = { kafka: { topic: 'receipts', partition: 0, offset: '1' }, receiptId: 'msg_1', eventId: e2!.id, destination: 'ledger', status: 'failed' as const, detail: 'ledger closed', at: t0 + 6000 };
  await store.write(batch({ receipts: [failed] }));
  await store.recordIssues([failedReceiptOccurrence(failed)!]);
  const sla = issueId('receipts', 'ledger', 'sla');
  const refused = issueId('receipts', 'ledger', 'failed');
  assert.deepEqual([(await store.issue(sla))!.state, (await store.issue(refused))!.state], ['open', 'open']);
  assert.deepEqual(await watch.check(t0 + 100_000), [], 'quiet, but no receipt says applied');
  await store.write(delivered(e3));
  await store.write(batch({ receipts: [{ ...failed, kafka: { ...failed.kafka, offset: '2' }, receiptId: 'msg_2', eventId: e3!.id, status: 'applied', detail: null, at: t0 + 200_100 }] }));
  assert.deepEqual((await watch.check(t0 + 200_200)).map((i) => i.id).sort(), [sla, refused].sort());
}));

/** The alert publisher with Kafka replaced by a list: what it would have produced, decoded. */
function publisherOf(store: IndexStore) {
  const sent: AlertEvent[] = [];
  const producer = { send: async (r: { messages: { value: Buffer }[] }) => { for (const m of r.messages) sent.push(JSON.parse(m.value.toString()) as AlertEvent); } } as unknown as Producer;
  const codec = { encode: async (_t: string, _s: string, e: RawEvent) => e.body } as unknown as EnvelopeCodec;
  const publisher = new AlertPublisher({ config, store, producer, codec, rawTopic: 'raw-events', log: quietLog, metrics: createMetricsRegistry('console') });
  return { sent, publisher };
}

test('ingress: two minutes without a 503 resolve the issue by itself, and the resolve is alerted once', () => withStore(async (store) => {
  let counts = [0, 0];
  const ingress = { recent: async (minutes: number, now = Date.now()) => counts.slice(0, minutes).map((count, i) => ({ minute: Math.floor(now / 60_000) - i, count })) };
  // No destinations: only ingress is looked at.
  const watch = new DestinationWatch({ ...config, destinations: [] }, store, { holds: async () => new Map() }, () => {}, quietLog, ingress);
  const { sent, publisher } = publisherOf(store);
  counts = [2, 0];
  assert.deepEqual((await watch.check(t0)).map((c) => c.change), ['opened']);
  const id = issueId('ingress', 'ingress', '503');
  // The next minute: none now, two the minute before — still open.
  counts = [0, 2];
  await watch.check(t0 + 60_000);
  assert.equal((await store.issue(id))!.state, 'open');
  counts = [0, 0];
  await watch.check(t0 + 120_000);
  assert.deepEqual([(await store.issue(id))!.state, (await store.issue(id))!.stateBy], ['resolved', 'hookyard']);
  await watch.check(t0 + 123_000);
  await publisher.publish(t0 + 124_000);
  assert.deepEqual(sent.map((e) => [e.type, e.issue.id, e.issue.state]), [['issue.opened', id, 'open'], ['issue.resolved', id, 'resolved']]);
  assert.equal(await publisher.publish(t0 + 130_000), 0, 'resolved once');
}));

test('a flapping issue: a reopen within alerts.reopenIntervalSeconds of the last page waits; resolved meanwhile, neither goes out; still open after it, the reopen does', () => withStore(async (store) => {
  const { sent, publisher } = publisherOf(store);
  const watch = new RecoveryWatch(config, store, quietLog);
  const e = eventRow({ receivedAt: t0 });
  await store.write(batch({ events: [e] }));
  const id = issueId('delivery', 'crm', 'HTTP 503');
  let attempt = 0;
  const failAt = (at: number) => fail(store, [attemptRow(e, 'crm', ++attempt, 'retry', 503, at)]);
  const recoverAt = async (at: number) => {
    await store.write(batch({ attempts: [attemptRow(e, 'crm', ++attempt, 'success', 200, at)] }));
    assert.deepEqual((await watch.check(at + 60_000)).map((i) => i.id), [id]);
  };
  const types = () => sent.map((x) => x.type);
  await failAt(t0);
  await publisher.publish(t0 + 1);
  await recoverAt(t0 + 1000);
  await publisher.publish(t0 + 61_001);
  assert.deepEqual(types(), ['issue.opened', 'issue.resolved']);
  // Reopened 90 s after the page: held; resolved again: both withdrawn.
  await failAt(t0 + 90_000);
  assert.equal(await publisher.publish(t0 + 90_001), 0);
  await recoverAt(t0 + 91_000);
  assert.equal(await publisher.publish(t0 + 151_001), 2);
  assert.deepEqual(types(), ['issue.opened', 'issue.resolved'], 'the flap paged nobody');
  assert.deepEqual(await store.unpublishedIssueChanges(10), []);
  // Reopened again and still open when five minutes since the page have passed: alerted then, once.
  await failAt(t0 + 200_000);
  await publisher.publish(t0 + 200_001);
  await publisher.publish(t0 + 299_000);
  assert.deepEqual(types(), ['issue.opened', 'issue.resolved']);
  await publisher.publish(t0 + 300_001);
  await publisher.publish(t0 + 300_500);
  assert.deepEqual(types(), ['issue.opened', 'issue.resolved', 'issue.reopened']);
  // Its resolve goes out at once; a reopen right after waits five minutes from the reopen's page.
  await recoverAt(t0 + 301_000);
  await publisher.publish(t0 + 361_001);
  await failAt(t0 + 400_000);
  await publisher.publish(t0 + 599_000);
  assert.deepEqual(types(), ['issue.opened', 'issue.resolved', 'issue.reopened', 'issue.resolved']);
  await publisher.publish(t0 + 600_002);
  assert.deepEqual(types(), ['issue.opened', 'issue.resolved', 'issue.reopened', 'issue.resolved', 'issue.reopened']);
}));
