// hookyard config test, the comparison core: recorded events through the live and a draft
// config's connections (the router's route()), compared connection by connection. No Kafka.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type RawEvent } from '@hookyard/core';
import { RoutingComparison, formatConfigTest, type ConnectionDiff, type ConfigTestReport } from '../../../../services/replayer/src/commands/config-test.ts';

const FROM = Date.parse('2026-11-24T10:00:00Z');
const TO = Date.parse('2026-11-24T12:00:00Z');

const config = (connections: string) => parseConfig(`
sources:
  - name: shop
  - name: github
destinations:
  - { name: billing, url: "http://billing.test/" }
  - { name: crm, url: "http://crm.test/" }
  - { name: audit, url: "http://audit.test/" }
  - { name: ledger, url: "http://ledger.test/" }
  - { name: slack, url: "http://slack.test/" }
  - { name: legacy, url: "http://legacy.test/" }
  - { name: archive, url: "http://archive.test/" }
connections:
${connections}`, {});

const LIVE = `
  - source: shop
    destination: billing
    filter: { body: { type: invoice.paid } }
  - source: shop
    destination: crm
  - source: shop
    destination: audit
    transform: '{ "body": { "id": body.id, "amount": body.amount } }'
  - source: github
    destination: slack
    transform: '{ "body": body }'
  - source: github
    destination: legacy
  - source: github
    destination: archive
`;

// Loosens billing, tightens crm, adds a field to audit's output, makes slack refuse
// deletions, drops legacy, adds ledger; archive is untouched.
const DRAFT = `
  - source: shop
    destination: billing
    filter: { body: { type: { $in: [invoice.paid, invoice.failed] } } }
  - source: shop
    destination: crm
    filter: { body: { type: invoice.paid } }
  - source: shop
    destination: audit
    transform: '{ "body": { "id": body.id, "amount": body.amount, "currency": "usd" } }'
  - source: github
    destination: slack
    transform: 'body.action = "deleted" ? $error("no deletes") : { "body": body }'
  - source: github
    destination: archive
  - source: shop
    destination: ledger
    filter: { body: { amount: { $gt: 100 } } }
`;

let clock = FROM;
const event = (source: string, body: Record<string, unknown>): RawEvent => ({
  id: String(body.id), source, receivedAt: clock++, method: 'POST', path: `/webhooks/${source}`, query: '',
  headers: { 'content-type': 'application/json', 'x-request-id': 'r1' }, body: Buffer.from(JSON.stringify(body)), orderingKey: String(body.id), replayId: null,
});

const EVENTS = [
  event('shop', { id: 's1', type: 'invoice.paid', amount: 50 }),
  event('shop', { id: 's2', type: 'invoice.failed', amount: 200 }),
  event('shop', { id: 's3', type: 'invoice.paid', amount: 150 }),
  event('shop', { id: 's4', type: 'customer.created' }),
  event('shop', { id: 's5', type: 'invoice.failed', amount: 20 }),
  event('github', { id: 'g1', action: 'opened' }),
  event('github', { id: 'g2', action: 'deleted' }),
  event('github', { id: 'g3', action: 'deleted' }),
];

async function compare(live: string, draft: string, events = EVENTS): Promise<ConfigTestReport> {
  const c = new RoutingComparison(config(live), config(draft));
  for (const e of events) await c.add(e);
  return c.report(FROM, TO);
}

const byName = (r: ConfigTestReport) => new Map(r.connections.map((c) => [c.connection, c]));
const counts = (c: ConnectionDiff | undefined) => c && {
  status: c.status, events: c.events, newlyMatched: c.newlyMatched, noLongerMatched: c.noLongerMatched,
  outputChanged: c.outputChanged, transformErrors: c.transformErrors, liveTransformErrors: c.liveTransformErrors,
};

test('each kind of change is counted per connection, with the first event as its example', async () => {
  const r = await compare(LIVE, DRAFT);
  assert.equal(r.events, 8);
  assert.deepEqual(r.bySource, { shop: 5, github: 3 });
  assert.equal(r.changed, true);
  const c = byName(r);
  assert.deepEqual([...c.keys()], ['shop→billing', 'shop→crm', 'shop→audit', 'github→slack', 'github→legacy', 'github→archive', 'shop→ledger']);

  // Loosened filter: the two failed invoices now match.
  assert.deepEqual(counts(c.get('shop→billing')), { status: 'changed', events: 5, newlyMatched: 2, noLongerMatched: 0, outputChanged: 0, transformErrors: 0, liveTransformErrors: 0 });
  assert.deepEqual(c.get('shop→billing')?.examples, { newlyMatched: 's2' });
  // Tightened filter: everything but the paid invoices drops out.
  assert.deepEqual(counts(c.get('shop→crm')), { status: 'changed', events: 5, newlyMatched: 0, noLongerMatched: 3, outputChanged: 0, transformErrors: 0, liveTransformErrors: 0 });
  assert.deepEqual(c.get('shop→crm')?.examples, { noLongerMatched: 's2' });
  // Changed transform: every delivery's body differs, and the diff shows the new field.
  assert.deepEqual(counts(c.get('shop→audit')), { status: 'changed', events: 5, newlyMatched: 0, noLongerMatched: 0, outputChanged: 5, transformErrors: 0, liveTransformErrors: 0 });
  const changed = c.get('shop→audit')?.examples.outputChanged;
  assert.equal(changed?.eventId, 's1');
  assert.match(changed?.diff ?? '', /^\+ {4}"currency": "usd"$/m);
  // Draft transform errors: the deletions fail, so they are also no longer delivered.
  assert.deepEqual(counts(c.get('github→slack')), { status: 'changed', events: 3, newlyMatched: 0, noLongerMatched: 2, outputChanged: 0, transformErrors: 2, liveTransformErrors: 0 });
  assert.equal(c.get('github→slack')?.examples.transformError?.eventId, 'g2');
  assert.match(c.get('github→slack')?.examples.transformError?.error ?? '', /no deletes/);
  // Removed and added connections.
  assert.deepEqual(counts(c.get('github→legacy')), { status: 'removed', events: 3, newlyMatched: 0, noLongerMatched: 3, outputChanged: 0, transformErrors: 0, liveTransformErrors: 0 });
  assert.deepEqual(counts(c.get('shop→ledger')), { status: 'added', events: 5, newlyMatched: 2, noLongerMatched: 0, outputChanged: 0, transformErrors: 0, liveTransformErrors: 0 });
  assert.deepEqual(c.get('shop→ledger')?.examples, { newlyMatched: 's2' });
  assert.deepEqual(counts(c.get('github→archive')), { status: 'same', events: 3, newlyMatched: 0, noLongerMatched: 0, outputChanged: 0, transformErrors: 0, liveTransformErrors: 0 });
  assert.deepEqual(c.get('github→archive')?.examples, {});
});

test('the report as lines: changed connections with examples, the rest summed', async () => {
  const r = await compare(LIVE, DRAFT);
  assert.deepEqual(formatConfigTest(r), [
    'config test [2026-11-24T10:00:00.000Z, 2026-11-24T12:00:00.000Z): 8 event(s) (shop 5, github 3)',
    'shop→billing    changed   2 newly matched, 0 no longer matched, 0 output changed, 0 transform error(s) (of 5 events)',
    '  newly matched: s2',
    'shop→crm        changed   0 newly matched, 3 no longer matched, 0 output changed, 0 transform error(s) (of 5 events)',
    '  no longer matched: s2',
    'shop→audit      changed   0 newly matched, 0 no longer matched, 5 output changed, 0 transform error(s) (of 5 events)',
    '  output changed: s1',
    '    --- live',
    '    +++ draft',
    '    @@ -5,5 +5,6 @@',
    '       "body": {',
    '         "id": "s1",',
    '    -    "amount": 50',
    '    +    "amount": 50,',
    '    +    "currency": "usd"',
    '       }',
    '     }',
    'github→slack    changed   0 newly matched, 2 no longer matched, 0 output changed, 2 transform error(s) (of 3 events)',
    '  no longer matched: g2',
    '  transform error: g2: transform failed: D3137 no deletes',
    'github→legacy   removed   0 newly matched, 3 no longer matched, 0 output changed, 0 transform error(s) (of 3 events)',
    '  no longer matched: g1',
    'shop→ledger     added     2 newly matched, 0 no longer matched, 0 output changed, 0 transform error(s) (of 5 events)',
    '  newly matched: s2',
    '1 connection(s) unchanged',
    '6 connection(s) would change',
  ]);
});

test('an identical draft changes nothing', async () => {
  const r = await compare(LIVE, LIVE);
  assert.equal(r.changed, false);
  assert.ok(r.connections.every((c) => c.status === 'same' && c.newlyMatched + c.noLongerMatched + c.outputChanged + c.transformErrors + c.liveTransformErrors === 0));
  assert.deepEqual(formatConfigTest(r).slice(1), ['6 connection(s) unchanged', 'no change']);
});

test('errors the live config already has are not a change; new ones are', async () => {
  const failing = `
  - source: github
    destination: slack
    transform: 'body.action = "deleted" ? $error("no deletes") : { "body": body }'
`;
  const same = await compare(failing, failing);
  assert.equal(same.changed, false);
  assert.deepEqual(counts(same.connections[0]), { status: 'same', events: 3, newlyMatched: 0, noLongerMatched: 0, outputChanged: 0, transformErrors: 2, liveTransformErrors: 2 });
  // Shown (it has counts) but not counted as a change.
  assert.deepEqual(formatConfigTest(same).slice(1), [
    'github→slack   same      0 newly matched, 0 no longer matched, 0 output changed, 2 transform error(s) (live 2) (of 3 events)',
    '  transform error: g2: transform failed: D3137 no deletes',
    'no change',
  ]);
});

test('a pair configured twice is told apart by order (#2)', async () => {
  const live = `
  - { source: shop, destination: billing, filter: { body: { type: invoice.paid } } }
  - { source: shop, destination: billing, filter: { body: { type: customer.created } } }
`;
  const draft = `
  - { source: shop, destination: billing, filter: { body: { type: invoice.paid } } }
  - { source: shop, destination: billing, filter: { body: { type: invoice.failed } } }
`;
  const r = await compare(live, draft);
  const c = byName(r);
  assert.deepEqual(r.connections.map((x) => [x.connection, x.source, x.destination, x.status]), [['shop→billing', 'shop', 'billing', 'same'], ['shop→billing#2', 'shop', 'billing', 'changed']]);
  assert.deepEqual(counts(c.get('shop→billing')), { status: 'same', events: 5, newlyMatched: 0, noLongerMatched: 0, outputChanged: 0, transformErrors: 0, liveTransformErrors: 0 });
  // The second one: the failed invoices now, customer.created no longer.
  assert.deepEqual(counts(c.get('shop→billing#2')), { status: 'changed', events: 5, newlyMatched: 2, noLongerMatched: 1, outputChanged: 0, transformErrors: 0, liveTransformErrors: 0 });
  assert.deepEqual(c.get('shop→billing#2')?.examples, { newlyMatched: 's2', noLongerMatched: 's4' });
  assert.deepEqual(formatConfigTest(r).slice(1, 2), ['shop→billing#2   changed   2 newly matched, 1 no longer matched, 0 output changed, 0 transform error(s) (of 5 events)']);
});

test('same JSON in different bytes is still an output change, shown as text', async () => {
  const live = `
  - { source: shop, destination: audit }
`;
  const draft = `
  - { source: shop, destination: audit, transform: 'body' }
`;
  const r = await compare(live, draft, [event('shop', { id: 's9', type: 'x' })].map((e) => ({ ...e, body: Buffer.from('{ "id": "s9", "type": "x" }') })));
  const a = r.connections[0];
  assert.equal(a?.outputChanged, 1);
  assert.match(a?.examples.outputChanged?.diff ?? '', /^- {2}"body": "\{ \\"id\\": \\"s9\\", \\"type\\": \\"x\\" \}"$/m);
  assert.match(a?.examples.outputChanged?.diff ?? '', /^\+ {2}"body": "\{\\"id\\":\\"s9\\",\\"type\\":\\"x\\"\}"$/m);
});
