// One conformance suite for every IndexStore backend: a backend is done when this passes
// against it (test/services/console/store/<backend>.test.ts runs it).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventId } from '@hookyard/core';
import { emptyBatch, LATENCY_BOUNDS, type AttemptRow, type IssueOccurrence, type EventQuery, type EventRow, type IndexStore, type WriteBatch } from '../driver.ts';

let offsets = 0;
const at = (topic: string) => ({ topic, partition: 0, offset: String(offsets++) });

export function eventRow(over: Partial<EventRow> & { receivedAt: number }): EventRow {
  const body = over.body === undefined ? Buffer.from(JSON.stringify({ type: 'invoice.paid', data: { object: { customer: 'cus_123', amount: 42, live: true } } })) : over.body;
  return {
    id: eventId(over.receivedAt), source: 'stripe', method: 'POST', path: '/webhooks/stripe', query: '', headers: { 'content-type': 'application/json', 'stripe-signature': '[redacted]' },
    body, bodySize: body?.length ?? 0, kafka: at('raw-events'), orderingKey: 'cus_123', eventType: 'invoice.paid', webhookId: null, replayId: null, ...over,
  };
}

export function attemptRow(e: EventRow, destination: string, n: number, outcome: AttemptRow['outcome'], status: number | null, t: number): AttemptRow {
  return {
    kafka: at('delivery-attempts'), eventId: e.id, destination, attempt: n, at: t, status, outcome, latencyMs: 12.5, error: outcome === 'success' ? null : `HTTP ${status}`,
    responseSnippet: outcome === 'success' ? 'ok' : 'nope', nextAttemptAt: outcome === 'retry' ? t + 5000 : null,
  };
}

const batch = (over: Partial<WriteBatch>): WriteBatch => ({ ...emptyBatch(), ...over });
const q = (over: Partial<EventQuery> = {}): EventQuery => ({ match: [], limit: 50, ...over });

/**
 * A store whose attempts table lost its request_headers column (as a store from before
 * they were kept): `dropColumn` removes it between a write and a re-open; old attempts
 * then read as null, new ones with their headers.
 */
export async function attemptHeadersAfterUpgrade(open: () => Promise<IndexStore>, dropColumn: () => Promise<void>): Promise<void> {
  const e = eventRow({ receivedAt: Date.UTC(2026, 0, 5) });
  const old = await open();
  await old.write({ ...emptyBatch(), events: [e], attempts: [attemptRow(e, 'billing', 1, 'retry', 500, e.receivedAt + 1)] });
  await old.close();
  await dropColumn();
  const store = await open();
  try {
    const sent = { 'webhook-id': `${e.id}.billing`, authorization: '[redacted]' };
    await store.write({ ...emptyBatch(), attempts: [{ ...attemptRow(e, 'billing', 2, 'success', 200, e.receivedAt + 5000), requestHeaders: sent }] });
    assert.deepEqual((await store.trace(e.id))?.attempts.map((a) => [a.attempt, a.requestHeaders]), [[1, null], [2, sent]]);
  } finally {
    await store.close();
  }
}

export function storeConformance(name: string, open: () => Promise<IndexStore>): void {
  describe(`IndexStore conformance: ${name}`, () => {
    let store: IndexStore;
    const t0 = Date.UTC(2026, 11, 7, 10, 0, 0);
    before(async () => { store = await open(); });
    after(async () => { await store.close(); });

    test('an event, its decisions, deliveries, attempts and dead letters come back as one trace; writing the same records again changes nothing', async () => {
      const e = eventRow({ receivedAt: t0 });
      const sent = { 'content-type': 'application/json', 'webhook-id': `${e.id}.billing`, 'webhook-signature': '[redacted]', authorization: '[redacted]', 'x-note': 'ünïcode "quoted"' };
      const records = batch({
        events: [e],
        decisions: [
          { eventId: e.id, destination: 'billing', outcome: 'matched', error: null, at: t0 + 5, replayId: null, configVersion: 'v3' },
          { eventId: e.id, destination: 'crm', outcome: 'filtered', error: null, at: t0 + 5, replayId: null, configVersion: 'v3' },
          { eventId: e.id, destination: 'audit', outcome: 'transform_error', error: 'TypeError: x is undefined', at: t0 + 5, replayId: null, configVersion: 'v3' },
        ],
        deliveries: [{ eventId: e.id, source: 'stripe', destination: 'billing', receivedAt: t0, at: t0 + 5, replayId: null, kafka: at('deliveries.billing') }],
        // The second as a record from before attempts carried the headers sent.
        attempts: [{ ...attemptRow(e, 'billing', 1, 'retry', 500, t0 + 10), requestHeaders: sent }, attemptRow(e, 'billing', 2, 'success', 200, t0 + 5010)],
        deadLetters: [{ kafka: at('dead-letters'), eventId: e.id, source: 'stripe', destination: 'audit', receivedAt: t0, stage: 'transform', attempts: 0, lastStatus: null, lastError: 'TypeError: x is undefined', deadAt: t0 + 5, replayId: null }],
      });
      await store.write(records);
      await store.write(records);
      const tr = await store.trace(e.id);
      assert.ok(tr?.event);
      assert.equal(tr.event.body?.toString(), e.body?.toString());
      assert.deepEqual(tr.event.headers, e.headers);
      assert.deepEqual(tr.decisions.map((d) => [d.destination, d.outcome, d.configVersion]), [['audit', 'transform_error', 'v3'], ['billing', 'matched', 'v3'], ['crm', 'filtered', 'v3']]);
      assert.equal(tr.attempts.length, 2);
      assert.deepEqual(tr.attempts.map((a) => [a.attempt, a.status, a.outcome]), [[1, 500, 'retry'], [2, 200, 'success']]);
      assert.deepEqual(tr.attempts.map((a) => a.requestHeaders), [sent, null]);
      assert.equal(tr.deadLetters.length, 1);
      assert.deepEqual(tr.deliveries.map((d) => [d.destination, d.state, d.attempts, d.lastStatus]), [['audit', 'dead', 0, null], ['billing', 'delivered', 2, 200]]);
      assert.equal((await store.stats()).events, 1);
    });

    test('a delivery state moves only forward in time, whatever order its records are indexed in', async () => {
      const e = eventRow({ receivedAt: t0 + 1000 });
      const a1 = attemptRow(e, 'billing', 1, 'retry', 503, t0 + 1010);
      const a2 = attemptRow(e, 'billing', 2, 'retry', 503, t0 + 6010);
      // The second attempt first, then the event, the router's record and the first attempt late.
      await store.write(batch({ attempts: [a2] }));
      let tr = await store.trace(e.id);
      assert.equal(tr?.event, null);
      assert.equal(tr?.deliveries[0]?.state, 'retrying');
      await store.write(batch({ events: [e], deliveries: [{ eventId: e.id, source: 'stripe', destination: 'billing', receivedAt: e.receivedAt, at: t0 + 1005, replayId: null, kafka: at('deliveries.billing') }], attempts: [a1] }));
      tr = await store.trace(e.id);
      assert.deepEqual(tr?.deliveries.map((d) => [d.state, d.attempts, d.nextAttemptAt]), [['retrying', 2, a2.nextAttemptAt]]);
      const page = await store.searchEvents(q({ states: ['retrying'], destinations: ['billing'], sources: ['stripe'] }));
      assert.ok(page.items.some((i) => i.id === e.id), 'found by state once the event row came');
      // Exhausted: the dead letter and the last attempt.
      await store.write(batch({ deadLetters: [{ kafka: at('dead-letters'), eventId: e.id, source: 'stripe', destination: 'billing', receivedAt: e.receivedAt, stage: 'delivery', attempts: 3, lastStatus: 503, lastError: 'HTTP 503', deadAt: t0 + 20_000, replayId: null }] }));
      await store.write(batch({ attempts: [attemptRow(e, 'billing', 3, 'dead', 503, t0 + 20_000)] }));
      tr = await store.trace(e.id);
      assert.deepEqual(tr?.deliveries.map((d) => [d.state, d.attempts, d.lastStatus]), [['dead', 3, 503]]);
      // A replay puts it back to pending, then delivered.
      await store.write(batch({ deliveries: [{ eventId: e.id, source: 'stripe', destination: 'billing', receivedAt: e.receivedAt, at: t0 + 30_000, replayId: 'rpl_1', kafka: at('deliveries.billing') }] }));
      tr = await store.trace(e.id);
      assert.deepEqual(tr?.deliveries.map((d) => [d.state, d.replayId]), [['pending', 'rpl_1']]);
      await store.write(batch({ attempts: [attemptRow(e, 'billing', 1, 'success', 204, t0 + 30_010)] }));
      tr = await store.trace(e.id);
      assert.deepEqual(tr?.deliveries.map((d) => [d.state, d.lastStatus, d.replayId]), [['delivered', 204, 'rpl_1']]);
      assert.ok((await store.searchEvents(q({ replayId: 'rpl_1' }))).items.some((i) => i.id === e.id));
    });

    test('search: every filter narrows, newest first, cursor pagination without gaps or repeats', async () => {
      const base = t0 + 100_000;
      const events: EventRow[] = [];
      for (let i = 0; i < 25; i++) {
        events.push(eventRow({
          receivedAt: base + i * 10, source: i % 2 === 0 ? 'stripe' : 'github', eventType: i % 3 === 0 ? 'invoice.paid' : 'customer.created',
          orderingKey: `key-${i % 4}`, webhookId: `wh_${i}`,
          headers: { 'content-type': 'application/json', 'x-shop': i % 5 === 0 ? 'shop-five' : 'shop-other' },
          body: Buffer.from(JSON.stringify({ n: i, flag: i % 2 === 0, data: { object: { customer: i < 5 ? 'cus_777' : 'cus_888' } }, note: i === 7 ? 'the quick brown fox' : 'nothing to see' })),
        }));
      }
      await store.write(batch({ events, attempts: events.filter((_, i) => i % 6 === 0).map((e) => attemptRow(e, 'billing', 1, 'retry', 502, e.receivedAt + 1)) }));
      const win = { from: base, to: base + 1000 };
      const ids = async (over: Partial<EventQuery>) => (await store.searchEvents(q({ ...win, ...over }))).items.map((i) => i.id);
      const expect = (pred: (i: number) => boolean) => events.map((e, i) => [e.id, i] as const).filter(([, i]) => pred(i)).map(([id]) => id).reverse();
      assert.deepEqual(await ids({}), expect(() => true));
      assert.deepEqual(await ids({ sources: ['github'] }), expect((i) => i % 2 === 1));
      assert.deepEqual(await ids({ eventType: 'invoice.*' }), expect((i) => i % 3 === 0));
      assert.deepEqual(await ids({ eventType: 'invoice_paid' }), [], 'LIKE wildcards in the input are literal');
      assert.deepEqual(await ids({ orderingKey: 'key-1' }), expect((i) => i % 4 === 1));
      assert.deepEqual(await ids({ webhookId: 'wh_13' }), expect((i) => i === 13));
      assert.deepEqual(await ids({ eventId: events[3]!.id }), expect((i) => i === 3));
      assert.deepEqual(await ids({ status: 502 }), expect((i) => i % 6 === 0));
      assert.deepEqual(await ids({ states: ['retrying'] }), expect((i) => i % 6 === 0));
      assert.deepEqual(await ids({ states: ['retrying'], destinations: ['billing', 'x'] }), expect((i) => i % 6 === 0));
      assert.deepEqual(await ids({ states: ['delivered', 'dead'] }), []);
      assert.deepEqual(await ids({ status: 502, destinations: ['other'] }), []);
      assert.deepEqual(await ids({ match: [{ root: 'body', path: ['data', 'object', 'customer'], value: 'cus_777' }] }), expect((i) => i < 5));
      assert.deepEqual(await ids({ match: [{ root: 'body', path: ['n'], value: '12' }] }), expect((i) => i === 12));
      assert.deepEqual(await ids({ match: [{ root: 'body', path: ['flag'], value: 'true' }] }), expect((i) => i % 2 === 0));
      assert.deepEqual(await ids({ match: [{ root: 'headers', path: ['x-shop'], value: 'shop-five' }] }), expect((i) => i % 5 === 0));
      assert.deepEqual(await ids({ text: 'quick fox' }), expect((i) => i === 7));
      assert.deepEqual(await ids({ text: 'cus_888 quick' }), expect((i) => i === 7));
      assert.deepEqual(await ids({ text: 'quick', sources: ['stripe'] }), []);
      assert.deepEqual(await ids({ from: base + 100, to: base + 150 }), expect((i) => i >= 10 && i < 15));
      // Pages of 7: all 25, once each, in order.
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 10; n++) {
        const page = await store.searchEvents(q({ ...win, limit: 7, ...(cursor ? { cursor } : {}) }));
        seen.push(...page.items.map((i) => i.id));
        if (page.next === null) break;
        cursor = page.next;
      }
      assert.deepEqual(seen, expect(() => true));
      // The same through a filter on a related table (its own subquery bounds), without a window too.
      for (const w of [win, {}]) {
        const filtered: string[] = [];
        cursor = undefined;
        for (let n = 0; n < 10; n++) {
          const page = await store.searchEvents(q({ ...w, states: ['retrying'], status: 502, limit: 2, ...(cursor ? { cursor } : {}) }));
          filtered.push(...page.items.map((i) => i.id));
          if (page.next === null) break;
          cursor = page.next;
        }
        assert.deepEqual(filtered.filter((id) => events.some((e) => e.id === id)), expect((i) => i % 6 === 0));
      }
    });

    test('input that looks like SQL or FTS syntax is only ever a value', async () => {
      const nasty = ["'; DROP TABLE events; --", '" OR 1=1 --', 'NEAR(a b)', '*', 'a AND', '\\', '%', "') UNION SELECT * FROM rejections --"];
      for (const v of nasty) {
        const page = await store.searchEvents(q({ text: v, sources: [v], eventType: v, orderingKey: v, webhookId: v, match: [{ root: 'body', path: [v], value: v }] }));
        assert.deepEqual(page.items, []);
      }
      assert.ok((await store.stats()).events > 0, 'nothing was dropped');
    });

    test('a body too big for the index keeps its size and Kafka coordinates; a binary body is kept as bytes', async () => {
      const big = eventRow({ receivedAt: t0 + 200_000, body: null, bodySize: 5_000_000 });
      const bin = eventRow({ receivedAt: t0 + 200_001, body: Buffer.from([0xff, 0x00, 0xfe, 0x01]) });
      await store.write(batch({ events: [big, bin] }));
      const a = await store.trace(big.id);
      assert.equal(a?.event?.body, null);
      assert.equal(a?.event?.bodySize, 5_000_000);
      assert.deepEqual(a?.event?.kafka, big.kafka);
      assert.deepEqual((await store.trace(bin.id))?.event?.body, Buffer.from([0xff, 0x00, 0xfe, 0x01]));
    });

    test('counts by source and by delivery state in time buckets', async () => {
      const base = t0 + 300_000;
      const es = [0, 10, 61_000].map((d, i) => eventRow({ receivedAt: base + d, source: i === 2 ? 'github' : 'shopify' }));
      await store.write(batch({
        events: es,
        deliveries: es.map((e) => ({ eventId: e.id, source: e.source, destination: 'sink', receivedAt: e.receivedAt, at: e.receivedAt + 1, replayId: null, kafka: at('deliveries.sink') })),
        attempts: [attemptRow(es[0]!, 'sink', 1, 'success', 200, base + 5)],
      }));
      const c = await store.counts({ from: base, to: base + 120_000, bucketMs: 60_000 });
      const b0 = Math.floor(base / 60_000) * 60_000;
      const b1 = Math.floor((base + 61_000) / 60_000) * 60_000;
      assert.deepEqual(c.received.filter((r) => r.source !== 'stripe'), [{ bucket: b0, source: 'shopify', count: 2 }, { bucket: b1, source: 'github', count: 1 }].sort((x, y) => x.bucket - y.bucket || x.source.localeCompare(y.source)));
      const sink = c.deliveries.filter((r) => r.destination === 'sink');
      assert.equal(sink.find((r) => r.state === 'delivered')?.count, 1);
      assert.equal(sink.filter((r) => r.state === 'pending').reduce((n, r) => n + r.count, 0), 2);
    });

    test('refused requests: newest first, paginated, idempotent', async () => {
      const base = t0 + 400_000;
      const rows = Array.from({ length: 5 }, (_, i) => ({
        kafka: at('ingress-rejections'), source: 'stripe', receivedAt: base + i, status: 401, code: 'signature_invalid', reason: 'no matching signature', method: 'POST',
        path: '/webhooks/stripe', remoteIp: '203.0.113.9', headers: { 'stripe-signature': '[redacted]' }, bodySize: 10, bodySha256: 'ab'.repeat(32),
      }));
      await store.write(batch({ rejections: rows }));
      await store.write(batch({ rejections: rows }));
      const p1 = await store.rejections({ from: base, limit: 3 });
      assert.equal(p1.items.length, 3);
      assert.ok(p1.next);
      const p2 = await store.rejections({ from: base, limit: 3, cursor: p1.next });
      assert.deepEqual([...p1.items, ...p2.items].map((r) => r.receivedAt), [4, 3, 2, 1, 0].map((i) => base + i));
      assert.equal(p2.next, null);
    });

    test('attempt statistics: per destination and time bucket, by success and latency bucket', async () => {
      const base = t0 + 5_000_000;
      const e = eventRow({ receivedAt: base, body: Buffer.from('{"stats":true}') });
      const attempt = (dest: string, n: number, outcome: AttemptRow['outcome'], latencyMs: number, when: number): AttemptRow => ({ ...attemptRow(e, dest, n, outcome, outcome === 'success' ? 200 : 500, when), latencyMs });
      await store.write(batch({ events: [e], attempts: [
        attempt('stats-a', 1, 'retry', 3, base + 10), attempt('stats-a', 2, 'success', 7, base + 20), attempt('stats-a', 3, 'success', 40_000, base + 60_000),
        attempt('stats-b', 1, 'success', 120, base + 30),
      ] }));
      const rows = (await store.attemptStats({ from: base, to: base + 120_000, bucketMs: 60_000 })).filter((r) => r.destination.startsWith('stats-'));
      const b0 = Math.floor(base / 60_000) * 60_000;
      assert.deepEqual(rows, [
        { bucket: b0, destination: 'stats-a', success: false, latencyBucket: 0, count: 1 },
        { bucket: b0, destination: 'stats-a', success: true, latencyBucket: 1, count: 1 },
        { bucket: b0, destination: 'stats-b', success: true, latencyBucket: LATENCY_BOUNDS.indexOf(250), count: 1 },
        { bucket: b0 + 60_000, destination: 'stats-a', success: true, latencyBucket: LATENCY_BOUNDS.length - 1, count: 1 },
      ]);
    });

    test('delivery latency: received → delivered, per source and destination, successes only', async () => {
      const base = t0 + 9_000_000;
      const e = eventRow({ receivedAt: base, source: 'lat-src', body: Buffer.from('{"latency":true}') });
      await store.write(batch({
        events: [e],
        deliveries: [{ eventId: e.id, source: 'lat-src', destination: 'lat-a', receivedAt: base, at: base + 1, replayId: null, kafka: at('deliveries.lat-a') }],
        attempts: [{ ...attemptRow(e, 'lat-a', 1, 'retry', 500, base + 3), latencyMs: 1 }, { ...attemptRow(e, 'lat-a', 2, 'success', 200, base + 700), latencyMs: 2 }],
      }));
      const rows = (await store.deliveryLatency({ from: base, to: base + 60_000, bucketMs: 60_000 })).filter((r) => r.source === 'lat-src');
      assert.deepEqual(rows, [{ bucket: Math.floor(base / 60_000) * 60_000, source: 'lat-src', destination: 'lat-a', latencyBucket: LATENCY_BOUNDS.indexOf(1000), count: 1 }]);
    });

    test('receipts: applied and failed by the newest receipt; an SLA miss is marked once; filters find each', async () => {
      const base = t0 + 12_000_000;
      const [a, b, c, d] = [0, 1, 2, 3].map((i) => eventRow({ receivedAt: base + i, source: 'rcpt', body: Buffer.from('{"receipts":true}') }));
      const es = [a!, b!, c!, d!];
      await store.write(batch({
        events: es,
        deliveries: es.map((e) => ({ eventId: e.id, source: 'rcpt', destination: 'ledger', receivedAt: e.receivedAt, at: e.receivedAt + 1, replayId: null, kafka: at('deliveries.ledger') })),
        attempts: es.slice(0, 3).map((e) => attemptRow(e, 'ledger', 1, 'success', 200, e.receivedAt + 10)),
      }));
      const receipt = (e: EventRow, status: 'applied' | 'failed', when: number, detail: string | null = null) => ({ kafka: at('receipts'), receiptId: `msg_${e.id}_${when}`, eventId: e.id, destination: 'ledger', status, detail, at: when });
      // b: failed, then applied (newest wins, whatever order they are indexed in).
      await store.write(batch({ receipts: [receipt(a!, 'applied', base + 100), receipt(b!, 'applied', base + 300), receipt(b!, 'failed', base + 200, 'ledger locked')] }));
      await store.write(batch({ receipts: [receipt(a!, 'applied', base + 100)] }));
      const state = async (e: EventRow) => (await store.trace(e.id))!.deliveries.find((x) => x.destination === 'ledger')!;
      assert.equal((await state(a!)).receipt, 'applied');
      assert.equal((await state(b!)).receipt, 'applied');
      assert.equal((await state(c!)).receipt, null);
      // c delivered without a receipt, d not delivered: only c misses its SLA, once.
      const missed = await store.markSlaMisses('ledger', base - 60_000, base + 1_000, base + 5_000);
      assert.deepEqual(missed, [{ eventId: c!.id, destination: 'ledger' }]);
      assert.deepEqual(await store.markSlaMisses('ledger', base - 60_000, base + 1_000, base + 6_000), [], 'marked once');
      assert.equal((await state(c!)).receipt, 'applied_unknown');
      assert.equal((await state(d!)).receipt, null);
      const ids = async (receipts: EventQuery['receipts']) => (await store.searchEvents(q({ sources: ['rcpt'], receipts, destinations: ['ledger'] }))).items.map((i) => i.id);
      assert.deepEqual(await ids(['applied']), [b!.id, a!.id]);
      assert.deepEqual(await ids(['none']), [c!.id]);
      assert.deepEqual(await ids(['sla_missed']), [c!.id]);
      assert.deepEqual(await ids(['failed']), []);
      // A late receipt still counts: applied, and no longer an SLA miss.
      await store.write(batch({ receipts: [receipt(c!, 'failed', base + 9_000, 'rejected by the ledger')] }));
      assert.equal((await state(c!)).receipt, 'failed');
      assert.equal((await state(c!)).receiptDetail, 'rejected by the ledger');
      assert.deepEqual(await ids(['sla_missed']), []);
      assert.deepEqual(await ids(['failed']), [c!.id]);
      assert.equal((await store.searchEvents(q({ sources: ['rcpt'] }))).items.find((i) => i.id === c!.id)!.deliveries[0]!.receipt, 'failed');
    });

    test('issues: counted once per occurrence; opened, acknowledged, resolved and reopened, ignored stays ignored; a threshold waits', async () => {
      const base = t0 + 20_000_000;
      const occ = (issueId: string, n: number, over: Partial<IssueOccurrence> = {}): IssueOccurrence => ({
        issueId, kind: 'delivery', target: 'billing', title: `billing: HTTP 500 (${issueId})`, occurrence: `attempts/0/${issueId}-${n}`, eventId: `ev-${issueId}-${n % 3}`, at: base + n, sample: `sample ${n}`, ...over,
      });
      const first = await store.recordIssues([occ('aaa1', 1), occ('aaa1', 2)]);
      assert.deepEqual(first.map((c) => [c.issue.id, c.change, c.issue.count, c.issue.state]), [['aaa1', 'opened', 2, 'open']]);
      assert.deepEqual(await store.recordIssues([occ('aaa1', 1), occ('aaa1', 2)]), [], 'the same occurrences again change nothing');
      assert.equal((await store.issue('aaa1'))!.count, 2);
      await store.recordIssues([occ('aaa1', 3)]);
      const i = (await store.issue('aaa1'))!;
      assert.deepEqual([i.count, i.events, i.firstSeen, i.lastSeen, i.sample, i.sampleEventId], [3, 3, base + 1, base + 3, 'sample 3', 'ev-aaa1-0']);
      assert.deepEqual((await store.issueEvents('aaa1', 10)).sort(), ['ev-aaa1-0', 'ev-aaa1-1', 'ev-aaa1-2']);
      assert.equal((await store.setIssueState('aaa1', 'acknowledged', 'ada', base + 10))!.state, 'acknowledged');
      assert.deepEqual(await store.recordIssues([occ('aaa1', 4)]), [], 'an acknowledged issue just counts');
      assert.equal((await store.setIssueState('aaa1', 'resolved', 'ada', base + 20))!.stateBy, 'ada');
      const again = await store.recordIssues([occ('aaa1', 5)]);
      assert.deepEqual(again.map((c) => [c.change, c.issue.state, c.issue.reopened, c.issue.count]), [['reopened', 'open', 1, 5]]);
      await store.recordIssues([occ('bbb2', 1, { kind: 'transform', target: 'shop → audit' })]);
      await store.setIssueState('bbb2', 'ignored', 'ada', base + 30);
      assert.deepEqual(await store.recordIssues([occ('bbb2', 2, { kind: 'transform', target: 'shop → audit' })]), [], 'ignored: no reopening');
      assert.equal((await store.issue('bbb2'))!.state, 'ignored');
      assert.equal((await store.issue('bbb2'))!.count, 2);
      // A threshold: 3 within a minute. Two, then one a minute later: still none; two more close together: opened, counting all.
      const th = (n: number, at: number) => occ('ccc3', n, { kind: 'refusal', target: 'stripe', at, threshold: { count: 3, windowMs: 60_000 } });
      assert.deepEqual(await store.recordIssues([th(1, base), th(2, base + 1000)]), []);
      assert.deepEqual(await store.recordIssues([th(3, base + 70_000)]), []);
      assert.equal(await store.issue('ccc3'), null);
      const opened = await store.recordIssues([th(4, base + 71_000), th(5, base + 72_000)]);
      assert.deepEqual(opened.map((c) => [c.change, c.issue.count, c.issue.firstSeen]), [['opened', 5, base]]);
      // Listing: newest seen first, by state and kind, paginated.
      const all = await store.issues({ limit: 2 });
      assert.deepEqual(all.items.map((x) => x.id), ['ccc3', 'aaa1']);
      const rest = await store.issues({ limit: 10, cursor: all.next! });
      assert.deepEqual(rest.items.map((x) => x.id), ['bbb2']);
      assert.equal(rest.next, null);
      assert.deepEqual((await store.issues({ limit: 10, states: ['ignored'] })).items.map((x) => x.id), ['bbb2']);
      assert.deepEqual((await store.issues({ limit: 10, kinds: ['refusal'] })).items.map((x) => x.id), ['ccc3']);
      assert.deepEqual((await store.issues({ limit: 10, cursor: "1' OR '1'='1" })).items, []);
      // The outbox for alerts: opened, resolved, reopened (aaa1); opened (bbb2, ccc3); each once, in order, until marked.
      const pending = await store.unpublishedIssueChanges(100);
      assert.deepEqual(pending.map((c) => [c.issueId, c.change]), [['aaa1', 'opened'], ['aaa1', 'resolved'], ['aaa1', 'reopened'], ['bbb2', 'opened'], ['ccc3', 'opened']]);
      assert.ok(pending.every((c) => /^[0-9a-f-]{36}$/.test(c.eventId)) && new Set(pending.map((c) => c.eventId)).size === 5);
      await store.markIssueChangesPublished(pending.slice(0, 2).map((c) => c.seq), base + 50);
      assert.deepEqual((await store.unpublishedIssueChanges(100)).map((c) => c.seq), pending.slice(2).map((c) => c.seq));
      await store.setIssueState('aaa1', 'acknowledged', 'ada', base + 100);
      await store.setIssueState('aaa1', 'resolved', 'ada', base + 101);
      await store.setIssueState('aaa1', 'resolved', 'ada', base + 102);
      assert.deepEqual((await store.unpublishedIssueChanges(100)).slice(3).map((c) => c.change), ['resolved'], 'resolving twice: one change');
    });

    test('issues resolving by themselves: a guarded resolve, a rate that must be exceeded again to reopen, evidence that a destination works, when alerts went out', async () => {
      const base = t0 + 30_000_000;
      const occ = (issueId: string, n: number, at: number, over: Partial<IssueOccurrence> = {}): IssueOccurrence => ({
        issueId, kind: 'delivery', target: 'mend', title: `mend: HTTP 502 (${issueId})`, occurrence: `attempts/9/${issueId}-${n}`, eventId: null, at, sample: `sample ${n}`, ...over,
      });
      await store.recordIssues([occ('ddd4', 1, base)]);
      // Not in the states asked for, or seen since: nothing changes, no outbox row.
      assert.equal(await store.setIssueState('ddd4', 'resolved', 'hookyard', base + 5, { states: ['acknowledged'] }), null);
      assert.equal(await store.setIssueState('ddd4', 'resolved', 'hookyard', base + 5, { states: ['open'], lastSeen: base - 1 }), null);
      assert.equal(await store.setIssueState('nope0000000000000000', 'resolved', 'hookyard', base + 5, { states: ['open'] }), null);
      assert.equal((await store.issue('ddd4'))!.state, 'open');
      const done = await store.setIssueState('ddd4', 'resolved', 'hookyard', base + 5, { states: ['open', 'acknowledged'], lastSeen: base });
      assert.deepEqual([done?.state, done?.stateBy], ['resolved', 'hookyard']);
      await store.recordIssues([occ('eee5', 1, base, { kind: 'transform' })]);
      await store.setIssueState('eee5', 'ignored', 'ada', base + 1);
      assert.equal(await store.setIssueState('eee5', 'resolved', 'hookyard', base + 5, { states: ['open', 'acknowledged'] }), null, 'an ignored issue stays ignored');

      // A rate issue (2 within a minute) resolved: one more does not reopen it, a second within the minute does.
      const th = (n: number, at: number) => occ('fff6', n, at, { kind: 'dead_letters', threshold: { count: 2, windowMs: 60_000 } });
      await store.recordIssues([th(1, base), th(2, base + 1)]);
      assert.equal(await store.issueOccurrencesSince('fff6', base), 1);
      assert.equal(await store.issueOccurrencesSince('fff6', base - 1), 2);
      await store.setIssueState('fff6', 'resolved', 'hookyard', base + 120_000);
      assert.deepEqual(await store.recordIssues([th(3, base + 130_000)]), []);
      assert.deepEqual([(await store.issue('fff6'))!.state, (await store.issue('fff6'))!.count], ['resolved', 3]);
      assert.deepEqual((await store.recordIssues([th(4, base + 140_000)])).map((c) => c.change), ['reopened']);

      // A delivery delivered, a receipt saying applied: after their times only.
      const e = eventRow({ receivedAt: base, source: 'mendsrc', body: Buffer.from('{"mend":true}') });
      await store.write(batch({
        events: [e],
        deliveries: [{ eventId: e.id, source: 'mendsrc', destination: 'mend', receivedAt: base, at: base + 1, replayId: null, kafka: at('deliveries.mend') }],
        attempts: [attemptRow(e, 'mend', 1, 'retry', 502, base + 10), attemptRow(e, 'mend', 2, 'success', 200, base + 1000)],
      }));
      assert.equal(await store.workedSince('mend', base + 999, 'delivered'), true);
      assert.equal(await store.workedSince('mend', base + 1000, 'delivered'), false);
      assert.equal(await store.workedSince('other', base, 'delivered'), false);
      assert.equal(await store.workedSince('mend', base, 'applied'), false);
      const receipt = (status: 'applied' | 'failed', when: number) => ({ kafka: at('receipts'), receiptId: `msg_${when}`, eventId: e.id, destination: 'mend', status, detail: null, at: when });
      await store.write(batch({ receipts: [receipt('failed', base + 2000)] }));
      assert.equal(await store.workedSince('mend', base, 'applied'), false, 'a failed receipt is no evidence');
      await store.write(batch({ receipts: [receipt('applied', base + 3000)] }));
      assert.equal(await store.workedSince('mend', base + 2999, 'applied'), true);
      assert.equal(await store.workedSince('mend', base + 3000, 'applied'), false);

      // Alerts: the newest opened/reopened alert sent is known; one withdrawn unsent is not counted.
      const pending = (await store.unpublishedIssueChanges(1000)).filter((c) => c.issueId === 'fff6');
      assert.deepEqual(pending.map((c) => [c.change, c.lastAlertAt]), [['opened', null], ['resolved', null], ['reopened', null]]);
      await store.markIssueChangesPublished([pending[0]!.seq], base + 7);
      await store.markIssueChangesPublished([pending[1]!.seq, pending[2]!.seq], null);
      await store.setIssueState('fff6', 'resolved', 'hookyard', base + 200_000);
      const next = (await store.unpublishedIssueChanges(1000)).filter((c) => c.issueId === 'fff6');
      assert.deepEqual(next.map((c) => [c.change, c.lastAlertAt]), [['resolved', base + 7]]);
    });

    test('audit log: appended, newest first, paginated', async () => {
      for (let i = 0; i < 5; i++) await store.recordAudit({ at: t0 + i, user: 'ada', role: 'operator', action: 'destination.pause', target: `dest-${i}`, detail: { reason: `why ${i}`, n: i } });
      const p1 = await store.auditLog({ limit: 3 });
      assert.deepEqual(p1.items.map((r) => r.target), ['dest-4', 'dest-3', 'dest-2']);
      assert.deepEqual(p1.items[0]!.detail, { reason: 'why 4', n: 4 });
      assert.equal(p1.items[0]!.user, 'ada');
      const p2 = await store.auditLog({ limit: 3, cursor: p1.next! });
      assert.deepEqual(p2.items.map((r) => r.target).slice(0, 2), ['dest-1', 'dest-0']);
      assert.deepEqual((await store.auditLog({ limit: 3, cursor: "1' OR 1=1" })).items, []);
    });

    test('erase removes an event and its whole story; prune drops what is older than the retention', async () => {
      const e = eventRow({ receivedAt: t0 + 500_000 });
      await store.write(batch({ events: [e], attempts: [attemptRow(e, 'billing', 1, 'success', 200, e.receivedAt + 1)], decisions: [{ eventId: e.id, destination: 'billing', outcome: 'matched', error: null, at: e.receivedAt, replayId: null, configVersion: null }] }));
      await store.recordIssues([{ issueId: 'erase1', kind: 'delivery', target: 'billing', title: 'billing: HTTP 500 (erase1)', occurrence: `attempts/0/${e.id}`, eventId: e.id, at: e.receivedAt + 1, sample: 'HTTP 500' }]);
      assert.equal(await store.erase(e.id), true);
      assert.equal(await store.trace(e.id), null);
      assert.equal(await store.erase(e.id), false);
      // The issue keeps its count, not the erased event.
      assert.deepEqual(await store.issueEvents('erase1', 10), []);
      assert.equal((await store.issue('erase1'))!.sampleEventId, null);
      assert.equal((await store.issue('erase1'))!.count, 1);
      assert.deepEqual((await store.searchEvents(q({ text: 'cus_123', from: e.receivedAt - 1 }))).items, []);

      const old = eventRow({ receivedAt: t0 - 86_400_000 });
      const fresh = eventRow({ receivedAt: t0 + 600_000 });
      await store.write(batch({
        events: [old, fresh], attempts: [attemptRow(old, 'billing', 1, 'success', 200, old.receivedAt + 1), attemptRow(fresh, 'billing', 1, 'success', 200, fresh.receivedAt + 1)],
        rejections: [{ kafka: at('ingress-rejections'), source: 'stripe', receivedAt: old.receivedAt, status: 413, code: 'body_too_large', reason: 'too large', method: 'POST', path: '/', remoteIp: '::1', headers: {}, bodySize: 1, bodySha256: null }],
      }));
      const before = (await store.stats()).events;
      const r = await store.prune(t0 - 1000);
      assert.equal(r.events, 1);
      assert.equal(r.rejections, 1);
      assert.equal(await store.trace(old.id), null);
      assert.ok(await store.trace(fresh.id));
      assert.equal((await store.stats()).events, before - 1);
    });
  });
}
