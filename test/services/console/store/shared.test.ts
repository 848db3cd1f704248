import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foldDeliveryUpdates, ftsQuery, globToLike, idBoundary, jsonPathOf, type DeliveryUpdate } from '../../../../services/console/src/store/shared.ts';

const u = (over: Partial<DeliveryUpdate>): DeliveryUpdate => ({ eventId: 'e', destination: 'd', source: '', receivedAt: 1, state: 'pending', stateAt: 0, attempts: 0, lastStatus: null, lastError: null, nextAttemptAt: null, replayId: null, ...over });

test('a batch\'s updates of one delivery fold by time, later stage on ties, attempts the largest, source the first known', () => {
  const [f] = foldDeliveryUpdates([
    u({ state: 'retrying', stateAt: 20, attempts: 2, lastStatus: 500 }),
    u({ state: 'pending', stateAt: 5, source: 'stripe', receivedAt: 3 }),
    u({ state: 'retrying', stateAt: 10, attempts: 1, lastStatus: 502 }),
  ]);
  assert.deepEqual([f!.state, f!.stateAt, f!.attempts, f!.lastStatus, f!.source, f!.receivedAt], ['retrying', 20, 2, 500, 'stripe', 3]);
  const [g] = foldDeliveryUpdates([u({ state: 'delivered', stateAt: 9, attempts: 1, lastStatus: 200 }), u({ state: 'pending', stateAt: 9 })]);
  assert.equal(g!.state, 'delivered');
  assert.equal(foldDeliveryUpdates([u({}), u({ destination: 'other' })]).length, 2);
});

test('user text becomes quoted FTS words, LIKE patterns and JSON paths, never syntax', () => {
  assert.equal(ftsQuery('cus_123  refund'), '"cus_123" "refund"');
  assert.equal(ftsQuery('say "hi" NEAR(a b) *'), '"say" """hi""" "NEAR(a" "b)"');
  assert.equal(ftsQuery('* -- '), null);
  assert.equal(globToLike('invoice.*_100%'), 'invoice.%\\_100\\%');
  assert.equal(jsonPathOf(['data', 'items', '0', 'sku']), '$."data"."items"[0]."sku"');
  assert.equal(idBoundary(Date.UTC(2026, 11, 7)), `${Date.UTC(2026, 11, 7).toString(16).padStart(12, '0').slice(0, 8)}-${Date.UTC(2026, 11, 7).toString(16).padStart(12, '0').slice(8)}`);
});
