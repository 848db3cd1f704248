import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadQuery, parseCountsQuery, parseEventQuery, parseMatch, parseTime } from '../../../../services/console/src/api/query.ts';
import { tokenCheck } from '../../../../services/console/src/api/auth.ts';

const now = Date.UTC(2026, 11, 7, 12);
const bad = (f: () => unknown, param: string) => assert.throws(f, (e: unknown) => e instanceof BadQuery && e.param === param);

test('times: ISO, epoch ms, an age, now; anything else names the parameter', () => {
  assert.equal(parseTime('from', '2026-12-07T10:00:00Z', now), Date.UTC(2026, 11, 7, 10));
  assert.equal(parseTime('from', '2h', now), now - 7_200_000);
  assert.equal(parseTime('from', String(now), now), now);
  assert.equal(parseTime('to', 'now', now), now);
  bad(() => parseTime('from', 'yesterday', now), 'from');
});

test('event queries: every filter, repeated sources, matches; held is left to the caller', () => {
  const { query, state } = parseEventQuery({ from: '1d', source: ['stripe', 'github,shop'], destination: 'billing', state: 'held', eventType: 'invoice.*', status: '500', match: ['body.data.object.customer=cus_1', 'headers.X-Shop=a=b'], q: 'refund', limit: '20' }, now);
  assert.equal(state, 'held');
  assert.equal(query.states, undefined);
  assert.deepEqual(query.sources, ['stripe', 'github', 'shop']);
  assert.deepEqual(query.destinations, ['billing']);
  assert.equal(query.status, 500);
  assert.equal(query.limit, 20);
  assert.deepEqual(query.match, [{ root: 'body', path: ['data', 'object', 'customer'], value: 'cus_1' }, { root: 'headers', path: ['x-shop'], value: 'a=b' }]);
  assert.deepEqual(parseEventQuery({ state: 'dead' }, now).query.states, ['dead']);
});

test('bad queries: unknown parameter, bad values, malformed paths', () => {
  bad(() => parseEventQuery({ colour: 'red' }), 'colour');
  bad(() => parseEventQuery({ limit: '501' }), 'limit');
  bad(() => parseEventQuery({ state: 'lost' }), 'state');
  bad(() => parseEventQuery({ status: '600' }), 'status');
  bad(() => parseEventQuery({ from: '1h', to: '2h' }, now), 'to');
  bad(() => parseEventQuery({ eventId: 'x' }), 'eventId');
  bad(() => parseEventQuery({ limit: ['1', '2'] }), 'limit');
  bad(() => parseMatch('body.a'), 'match');
  bad(() => parseMatch('query.a=1'), 'match');
  bad(() => parseMatch("body.a'--=1"), 'match');
  bad(() => parseMatch('headers.a.b=1'), 'match');
  bad(() => parseCountsQuery({ bucket: '1m', from: '30d' }, now), 'bucket');
  bad(() => parseCountsQuery({ bucket: '2m' }, now), 'bucket');
});

test('tokens: only a configured bearer token is accepted', () => {
  const check = tokenCheck([{ name: 'ops', token: 'a-long-enough-token-1' }, { name: 'ci', token: 'a-long-enough-token-2' }]);
  assert.equal(check('Bearer a-long-enough-token-2'), 'ci');
  assert.equal(check('Bearer a-long-enough-token-3'), undefined);
  assert.equal(check('Basic a-long-enough-token-1'), undefined);
  assert.equal(check(undefined), undefined);
  assert.equal(tokenCheck([])('Bearer anything-at-all-here'), undefined);
});
