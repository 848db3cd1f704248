// Alert channels as destinations: the config expansion and each channel's payload template,
// evaluated by the router's own transform code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALERTS_SOURCE, compileTransform, parseConfig, type AlertEvent } from '../../../packages/core/src/index.ts';

const yaml = `
sources: [{ name: shop }]
alerts:
  channels:
    - { name: oncall, type: slack, url: "https://hooks.slack.com/services/T0/B0/x" }
    - { name: pd, type: pagerduty, routingKey: "abc\\"def" }
    - { name: teams, type: teams, url: "https://example.webhook.office.com/webhookb2/x" }
    - { name: ops, type: webhook, url: "https://ops.example.com/hooks", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
  rules:
    - { on: [issue.opened], kinds: [delivery], channels: [oncall] }
    - { on: [issue.opened, issue.resolved], channels: [pd, teams, ops] }
`;

const event = (type: AlertEvent['type']): AlertEvent => ({
  id: 'e', type, at: '2026-12-07T10:00:00.000Z',
  issue: { id: 'abc', kind: 'delivery', target: 'billing', title: 'billing: HTTP 500', state: 'open', count: 3, events: 2, firstSeen: '2026-12-07T09:00:00.000Z', lastSeen: '2026-12-07T10:00:00.000Z', sample: 'oops', url: null },
});

test('channels become destinations alert-<name> with a filter per rule and a template per type', async () => {
  const c = parseConfig(yaml, {});
  assert.ok(c.sources.some((s) => s.name === ALERTS_SOURCE));
  assert.deepEqual(c.destinations.map((d) => [d.name, d.ordering]), [['alert-oncall', 'per-key'], ['alert-pd', 'per-key'], ['alert-teams', 'per-key'], ['alert-ops', 'per-key']]);
  assert.equal(c.destinations.find((d) => d.name === 'alert-pd')!.url, 'https://events.pagerduty.com/v2/enqueue');
  assert.ok(c.destinations.find((d) => d.name === 'alert-ops')!.signingSecret, 'the webhook channel is signed');
  const conn = (d: string) => c.connections.find((x) => x.destination === d)!;
  assert.equal(conn('alert-ops').transform, undefined, 'the webhook channel gets the event as it is');
  const run = async (d: string, type: AlertEvent['type']) => JSON.parse((await compileTransform(conn(d).transform!)({ body: event(type), headers: {}, query: {}, path: '/', source: ALERTS_SOURCE, eventId: 'e', receivedAt: '' } as never)).body.toString());
  const pd = await run('alert-pd', 'issue.resolved');
  assert.deepEqual(pd, { routing_key: 'abc"def', event_action: 'resolve', dedup_key: 'hookyard-abc' }, 'a routing key with a quote stays a value');
  const teams = await run('alert-teams', 'issue.opened');
  assert.equal(teams['@type'], 'MessageCard');
  assert.equal(teams['@context'], 'https://schema.org/extensions');
  assert.equal(teams.title, 'New issue: billing: HTTP 500');
  assert.equal(teams.themeColor, 'E01E5A');
  assert.equal((await run('alert-teams', 'issue.resolved')).themeColor, '2EB67D');
  assert.deepEqual(conn('alert-oncall').filter, { body: { $or: [{ type: { $in: ['issue.opened'] }, issue: { kind: { $in: ['delivery'] } } }] } });
});

test('rules name configured channels; hookyard\'s own names are reserved', () => {
  assert.throws(() => parseConfig('sources: [{ name: shop }]\nalerts: { channels: [], rules: [{ on: [issue.opened], channels: [nowhere] }] }\n', {}), /alerts\.rules\[0\]\.channels\[0\]: unknown channel "nowhere"/);
  assert.throws(() => parseConfig('sources: [{ name: hookyard-alerts }]\n', {}), /"hookyard-alerts" is reserved/);
  assert.throws(() => parseConfig('sources: [{ name: s }]\ndestinations: [{ name: alert-x, url: "https://x.example.com" }]\n', {}), /reserved \(alert channels\)/);
  assert.equal(parseConfig('sources: [{ name: s }]\n', {}).sources.length, 1, 'no channels: nothing added');
});
