import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransformError, compileTransform, type TransformInput } from '@hookyard/core';

const input: TransformInput = {
  body: { type: 'invoice.paid', data: { object: { customer: 'cus_1', amount: 42 } } },
  headers: { 'x-shop': 'acme' }, query: { a: '1' }, path: '/webhooks/stripe',
  source: 'stripe', eventId: '01900000-0000-7000-8000-000000000000', receivedAt: '2026-11-24T09:00:00.000Z',
};

test('the expression sees body, headers, query, path, source, eventId, receivedAt and yields the body', async () => {
  const t = compileTransform('{ "type": body.type, "customer": body.data.object.customer, "src": source, "id": eventId, "shop": headers.`x-shop`, "at": receivedAt }');
  const out = await t(input);
  assert.deepEqual(JSON.parse(out.body.toString()), { type: 'invoice.paid', customer: 'cus_1', src: 'stripe', id: input.eventId, shop: 'acme', at: input.receivedAt });
  assert.equal(out.contentType, 'application/json');
  assert.deepEqual(out.headers, {});
});

test('{ body, headers } changes headers too; a string result is sent as text', async () => {
  const out = await compileTransform('{ "body": { "t": body.type }, "headers": { "X-Event-Type": body.type, "x-n": 1 } }')(input);
  assert.deepEqual(JSON.parse(out.body.toString()), { t: 'invoice.paid' });
  assert.deepEqual(out.headers, { 'x-event-type': 'invoice.paid', 'x-n': '1' });
  const text = await compileTransform('"type=" & body.type')(input);
  assert.equal(text.body.toString(), 'type=invoice.paid');
  assert.equal(text.contentType, undefined);
});

test('errors, timeouts and oversized results throw TransformError', async () => {
  await assert.rejects(compileTransform('$error("nope")')(input), (e: unknown) => e instanceof TransformError && /nope/.test(e.message));
  await assert.rejects(compileTransform('body.missing')(input), /no body/);
  const forever = compileTransform('($f := function($n) { $n > 0 ? $f($n + 1) : 0 }; $f(1))', { timeoutMs: 50, maxResultBytes: 1000 });
  const t0 = Date.now();
  await assert.rejects(forever(input), (e: unknown) => e instanceof TransformError && /exceeded 50 ms|D1011|stack/i.test(e.message));
  assert.ok(Date.now() - t0 < 5000);
  const slow = compileTransform('$sum([1..2000000].($ * 2))', { timeoutMs: 20, maxResultBytes: 1000 });
  await assert.rejects(slow(input), (e: unknown) => e instanceof TransformError);
  await assert.rejects(compileTransform('$pad("", 5000, "x")', { timeoutMs: 200, maxResultBytes: 1000 })(input), /over the 1000-byte limit/);
  assert.throws(() => compileTransform('body.('), TransformError);
});
