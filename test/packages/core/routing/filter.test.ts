import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, matchesFilter, parseConfig, validateFilter, type FilterView } from '@hookyard/core';

const view: FilterView = {
  body: {
    type: 'invoice.paid', amount: 1500, currency: 'usd', created: 100, updated: 200,
    tags: ['vip', 'eu'], items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 3 }],
    customer: { id: 'cus_1', email: 'a@example.com', address: { country: 'FR' } }, note: null,
  },
  headers: { 'x-shop': 'acme.myshopify.com', 'content-type': 'application/json' },
  query: { mode: 'live' },
  path: '/webhooks/shop',
};
const m = (f: Record<string, unknown>) => matchesFilter(f, view);

test('plain values mean equality; nested objects match recursively', () => {
  assert.equal(m({ body: { type: 'invoice.paid' } }), true);
  assert.equal(m({ body: { type: 'invoice.failed' } }), false);
  assert.equal(m({ body: { customer: { address: { country: 'FR' } } } }), true);
  assert.equal(m({ body: { customer: { address: { country: 'DE' } } } }), false);
  assert.equal(m({ body: { note: null } }), true);
  assert.equal(m({ headers: { 'x-shop': 'acme.myshopify.com' }, query: { mode: 'live' }, path: '/webhooks/shop' }), true);
  assert.equal(m({ body: { type: 'invoice.paid', amount: 1 } }), false);
});

test('arrays: a value matches an array containing it; array filters need all their elements', () => {
  assert.equal(m({ body: { tags: 'vip' } }), true);
  assert.equal(m({ body: { tags: 'us' } }), false);
  assert.equal(m({ body: { tags: ['eu', 'vip'] } }), true);
  assert.equal(m({ body: { tags: ['eu', 'us'] } }), false);
  assert.equal(m({ body: { items: { sku: 'b' } } }), true);
  assert.equal(m({ body: { items: { sku: 'c' } } }), false);
  assert.equal(m({ body: { currency: ['usd', 'eur'] } }), true);
});

test('every operator', () => {
  assert.equal(m({ body: { type: { $eq: 'invoice.paid' } } }), true);
  assert.equal(m({ body: { type: { $neq: 'invoice.paid' } } }), false);
  assert.equal(m({ body: { amount: { $gt: 1000 } } }), true);
  assert.equal(m({ body: { amount: { $gt: 1500 } } }), false);
  assert.equal(m({ body: { amount: { $gte: 1500 } } }), true);
  assert.equal(m({ body: { amount: { $lt: 1500 } } }), false);
  assert.equal(m({ body: { amount: { $lte: 1500 } } }), true);
  assert.equal(m({ body: { amount: { $gte: 1000, $lt: 2000 } } }), true);
  assert.equal(m({ body: { currency: { $in: ['usd', 'eur'] } } }), true);
  assert.equal(m({ body: { currency: { $in: ['gbp'] } } }), false);
  assert.equal(m({ body: { type: { $in: 'paid' } } }), true, '$in on a string is "contains"');
  assert.equal(m({ body: { tags: { $in: ['us', 'eu'] } } }), true);
  assert.equal(m({ body: { currency: { $nin: ['gbp'] } } }), true);
  assert.equal(m({ body: { currency: { $nin: ['usd'] } } }), false);
  assert.equal(m({ body: { type: { $startsWith: 'invoice.' } } }), true);
  assert.equal(m({ body: { type: { $startsWith: 'charge.' } } }), false);
  assert.equal(m({ body: { type: { $endsWith: '.paid' } } }), true);
  assert.equal(m({ body: { amount: { $startsWith: '15' } } }), false, 'no coercion of numbers');
  assert.equal(m({ body: { customer: { email: { $exist: true } } } }), true);
  assert.equal(m({ body: { customer: { phone: { $exist: true } } } }), false);
  assert.equal(m({ body: { customer: { phone: { $exist: false } } } }), true);
  assert.equal(m({ body: { $and: [{ type: 'invoice.paid' }, { amount: { $gt: 10 } }] } }), true);
  assert.equal(m({ body: { $and: [{ type: 'invoice.paid' }, { amount: { $gt: 1e6 } }] } }), false);
  assert.equal(m({ body: { $or: [{ type: 'x' }, { currency: 'usd' }] } }), true);
  assert.equal(m({ body: { $or: [{ type: 'x' }, { currency: 'y' }] } }), false);
  assert.equal(m({ body: { $not: { type: 'x' } } }), true);
  assert.equal(m({ body: { type: { $not: { $startsWith: 'invoice' } } } }), false);
});

test('$ref compares with another field of the request', () => {
  assert.equal(m({ body: { updated: { $gt: { $ref: 'body.created' } } } }), true);
  assert.equal(m({ body: { created: { $gt: { $ref: 'body.updated' } } } }), false);
  assert.equal(m({ body: { currency: { $ref: 'body.currency' } } }), true);
  assert.equal(m({ body: { currency: { $ref: 'query.mode' } } }), false);
  assert.equal(m({ body: { customer: { address: { country: { $eq: { $ref: 'body.customer.address.country' } } } } } }), true);
});

test('bad filters are reported by path', () => {
  assert.deepEqual(validateFilter({ body: { a: { $regex: 'x' } } }), [{ path: ['body', 'a', '$regex'], message: 'unknown operator "$regex"' }]);
  assert.deepEqual(validateFilter({ bdy: { a: 1 } }).map((p) => p.path), [['bdy']]);
  assert.deepEqual(validateFilter({ body: { $or: [] } }).map((p) => p.message), ['$or takes a non-empty list']);
  assert.deepEqual(validateFilter({ body: { a: { $exist: 'yes' } } }).map((p) => p.message), ['$exist takes true or false']);
  assert.deepEqual(validateFilter({ body: { a: { $gt: { $ref: 'nowhere.x' } } } }).map((p) => p.path.join('.')), ['body.a.$gt.$ref']);
  assert.throws(() => parseConfig(`
sources: [{ name: s }]
destinations: [{ name: d, url: "http://x/" }]
connections:
  - { source: s, destination: d, filter: { body: { type: { $startswith: "a" } } } }
  - { source: s, destination: d, transform: "body.(" }
`, {}), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.map((p) => p.split(':')[0]), ['connections[0].filter.body.type.$startswith', 'connections[1].transform']);
    return true;
  });
});
