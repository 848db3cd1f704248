import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawEvent } from '@hookyard/core';
import { bodyForMatching, route, routeTable } from '../../../../packages/core/src/routing/routes.ts';
import { testConfig } from '../../../support/stack.ts';

const ev = (body: string, ct: string, extra: Partial<RawEvent> = {}): RawEvent => ({
  id: 'e1', source: 's', receivedAt: 0, method: 'POST', path: '/webhooks/s', query: 'mode=live', headers: { 'content-type': ct }, body: Buffer.from(body), orderingKey: 'k', replayId: null, ...extra,
});

test('bodies for matching: JSON parsed, form parsed, text as text, binary and compressed not at all', () => {
  assert.deepEqual(bodyForMatching(ev('{"a":1}', 'application/json')), { a: 1 });
  assert.deepEqual(bodyForMatching(ev('a=1&b=two', 'application/x-www-form-urlencoded')), { a: '1', b: 'two' });
  assert.equal(bodyForMatching(ev('<x/>', 'application/xml')), '<x/>');
  assert.equal(bodyForMatching(ev('hello', 'text/plain')), 'hello');
  assert.equal(bodyForMatching(ev('\u0000\u0001', 'application/octet-stream')), undefined);
  assert.equal(bodyForMatching(ev('gz', 'application/json', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })), undefined);
});

test('one source fans out to many destinations; one destination takes many sources', async () => {
  const table = routeTable(testConfig({
    sources: [{ name: 's' }, { name: 't' }],
    destinations: [{ name: 'a', url: 'http://x/' }, { name: 'b', url: 'http://x/' }],
    connections: [
      { source: 's', destination: 'a' },
      { source: 's', destination: 'b', filter: { query: { mode: 'live' }, body: { kind: 'x' } } },
      { source: 't', destination: 'a' },
    ],
  }));
  const r = await route(table, ev('kind=x', 'application/x-www-form-urlencoded'));
  assert.deepEqual(r.deliveries.map((d) => d.destination), ['a', 'b']);
  const r2 = await route(table, ev('kind=y', 'application/x-www-form-urlencoded'));
  assert.deepEqual(r2.deliveries.map((d) => d.destination), ['a']);
  assert.deepEqual(r2.filtered, ['b']);
  const r3 = await route(table, ev('{}', 'application/json', { source: 't' }));
  assert.deepEqual(r3.deliveries.map((d) => [d.destination, d.source, d.orderingKey]), [['a', 't', 'k']]);
});
