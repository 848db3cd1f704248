// Alerts on the real pipeline: a destination answering 500 until an issue opens → exactly one
// Slack message and one PagerDuty trigger, in the shapes their documentation gives; more
// failures of the open issue → nothing more; the destination answering 2xx again → the issue
// resolves by itself, one PagerDuty resolve (same dedup_key) and one Slack message; failing
// and recovering again within alerts.reopenIntervalSeconds → nobody paged. And an issue
// change recorded before the console died is published when it starts again (the outbox),
// under the same event id.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { buildConsole } from '../../../services/console/src/app.ts';
import { SqliteStore } from '../../../services/console/src/store/sqlite/store.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startPipeline } from '../../support/pipeline.ts';
import { startSink, type Sink } from '../../support/sink.ts';
import { quietLog, runtimeFor, testConfig, whenReady } from '../../support/stack.ts';

const TOKEN = 'alerts-test-token-0123456789';
const ROUTING_KEY = 'R0123456789abcdef0123456789abcde'; // PagerDuty integration keys are 32 characters
const dir = mkdtempSync(join(tmpdir(), 'hookyard-alerts-'));
let billing: Sink;
let slack: Sink;
let pagerduty: Sink;
let ops: Sink;
const OPS_SECRET = `whsec_${Buffer.from('alerts-test-webhook-secret-012345').toString('base64')}`;
let ingressUrl = '';
let consoleUrl = '';
let raw: Record<string, unknown>;
const closers: (() => Promise<unknown>)[] = [];
let stopConsole: () => Promise<unknown> = async () => {};

before(async () => {
  const a = await infra();
  [billing, slack, pagerduty, ops] = [await startSink(), await startSink(), await startSink(), await startSink()];
  billing.respond = 500;
  pagerduty.respond = 202;
  raw = {
    kafka: { topicPrefix: uniquePrefix('alerts'), partitions: 2 },
    // Recovered: quiet for 2 s after the last failure (not the default two minutes).
    console: { apiTokens: [{ name: 'ops', token: TOKEN }], store: { type: 'sqlite', path: join(dir, 'index.db') }, issues: { recoveryQuietSeconds: 2 } },
    sources: [{ name: 'shop' }],
    destinations: [{ name: 'billing', url: billing.url, retry: { schedule: [0, 100], maxAttempts: 2 } }],
    connections: [{ source: 'shop', destination: 'billing' }],
    alerts: {
      consoleUrl: 'https://hookyard.example.com',
      channels: [{ name: 'oncall', type: 'slack', url: slack.url }, { name: 'pd', type: 'pagerduty', routingKey: ROUTING_KEY, url: pagerduty.url }, { name: 'ops', type: 'webhook', url: ops.url, secret: OPS_SECRET }],
      rules: [{ on: ['issue.opened', 'issue.reopened', 'issue.resolved'], kinds: ['delivery'], channels: ['oncall', 'pd'] }, { on: ['issue.resolved'], channels: ['ops'] }],
    },
  };
  const config = testConfig(raw);
  const pipeline = await startPipeline(a, config);
  ({ ingressUrl, consoleUrl } = pipeline);
  // The console is stopped and another started in the second test: closed on its own.
  stopConsole = () => pipeline.console.close();
  closers.push(() => pipeline.close(), () => stopConsole(), () => billing.close(), () => slack.close(), () => pagerduty.close(), () => ops.close());
});

after(async () => {
  for (const c of closers) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const api = async (path: string, method = 'GET') => (await fetch(`${consoleUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } })).json() as Promise<any>;
const send = async () => assert.equal((await fetch(`${ingressUrl}/webhooks/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"order":1}' })).status, 202);
const bodies = (s: Sink) => s.received.map((r) => JSON.parse(r.body.toString()) as any);

/** PagerDuty Events API v2, as documented: routing_key, event_action, dedup_key; a trigger's payload summary/source/severity. */
function assertPagerDuty(e: any, action: 'trigger' | 'resolve'): void {
  assert.equal(e.routing_key, ROUTING_KEY);
  assert.equal(e.event_action, action);
  assert.ok(typeof e.dedup_key === 'string' && e.dedup_key.length > 0 && e.dedup_key.length <= 255);
  if (action === 'trigger') {
    assert.ok(typeof e.payload.summary === 'string' && e.payload.summary.length > 0 && e.payload.summary.length <= 1024);
    assert.equal(e.payload.source, 'hookyard');
    assert.ok(['critical', 'error', 'warning', 'info'].includes(e.payload.severity));
  } else {
    assert.equal(e.payload, undefined);
  }
}

/** Slack incoming webhook: `text` (the notification) and section blocks of mrkdwn text. */
function assertSlack(m: any, pattern: RegExp): void {
  assert.match(m.text, pattern);
  assert.ok(Array.isArray(m.blocks) && m.blocks.every((b: any) => b.type === 'section' && b.text.type === 'mrkdwn' && b.text.text.length <= 3000));
}

test('an issue opened → one Slack message and one PagerDuty trigger; more failures → nothing; the destination recovers → resolved by itself, one of each; a flap → nothing', { timeout: 120_000 }, async () => {
  await send();
  await slack.waitFor(1, 60_000);
  await pagerduty.waitFor(1, 30_000);
  assertSlack(bodies(slack)[0], /^New issue: billing: HTTP 500$/);
  assert.match(bodies(slack)[0].blocks[0].text.text, /https:\/\/hookyard\.example\.com\/issues\/[0-9a-f]{20}/);
  const trigger = bodies(pagerduty)[0];
  assertPagerDuty(trigger, 'trigger');
  assert.equal(slack.received[0]!.headers['content-type'], 'application/json');

  // The issue is open: more failures count, no new alert.
  await send();
  const issue = await (async () => {
    for (let i = 0; i < 100; i++) {
      const x = ((await api('/api/v1/issues')).items as any[]).find((y) => y.title === 'billing: HTTP 500');
      if (x && x.count >= 4) return x;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail('the issue did not count the second event');
  })();
  await new Promise((r) => setTimeout(r, 2_000));
  assert.equal(slack.received.length, 1);
  assert.equal(pagerduty.received.length, 1);
  assert.equal(trigger.dedup_key, `hookyard-${issue.id}`);

  // The destination answers 2xx again and delivers: the issue resolves by itself (nobody
  // resolves it here), one resolve with the same dedup_key, one Slack message.
  billing.respond = 200;
  await send();
  await pagerduty.waitFor(2, 30_000);
  await slack.waitFor(2, 30_000);
  const resolve = bodies(pagerduty)[1];
  assertPagerDuty(resolve, 'resolve');
  assert.equal(resolve.dedup_key, trigger.dedup_key);
  assertSlack(bodies(slack)[1], /^Resolved: billing: HTTP 500$/);
  const resolved = await api(`/api/v1/issues/${issue.id}`);
  assert.deepEqual([resolved.state, resolved.stateBy], ['resolved', 'hookyard']);
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(pagerduty.received.length, 2);
  assert.equal(slack.received.length, 2);
  // The webhook channel (resolves only, by its rule): the event itself, signed the Standard Webhooks way.
  await ops.waitFor(1, 30_000);
  const hook = ops.received[0]!;
  const verified = new Webhook(OPS_SECRET).verify(hook.body.toString(), Object.fromEntries(Object.entries(hook.headers).map(([k, v]) => [k, String(v)]))) as { type: string; issue: { id: string } };
  assert.equal(verified.type, 'issue.resolved');
  assert.equal(verified.issue.id, issue.id);
  assert.equal(ops.received.length, 1);
  // The alerts are events too: in the history, under the hookyard-alerts source.
  const alerts = (await api('/api/v1/events?source=hookyard-alerts')).items as any[];
  assert.equal(alerts.length, 2);
  assert.ok(alerts.every((e) => e.deliveries.every((d: any) => d.state === 'delivered')));
  assert.deepEqual(alerts.map((e) => e.deliveries.length).sort(), [2, 3], 'the resolve also went to the webhook channel');
  // Nobody outside can post to it.
  assert.equal((await fetch(`${ingressUrl}/webhooks/hookyard-alerts`, { method: 'POST', body: '{}' })).status, 404);

  // A flap: it fails again (reopened, within five minutes of the page: the reopen waits) and
  // recovers again (resolved: the waiting reopen and this resolve are withdrawn). Nobody hears.
  billing.respond = 500;
  await send();
  const state = async (want: string, reopened: number) => {
    for (let i = 0; i < 150; i++) {
      const x = await api(`/api/v1/issues/${issue.id}`);
      if (x.state === want && x.reopened === reopened) return x;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail(`the issue did not become ${want} (reopened ${reopened})`);
  };
  await state('open', 1);
  billing.respond = 200;
  await send();
  assert.equal((await state('resolved', 1)).stateBy, 'hookyard');
  await new Promise((r) => setTimeout(r, 3_000));
  assert.deepEqual([pagerduty.received.length, slack.received.length, ops.received.length], [2, 2, 1], 'the flap paged nobody');
  assert.equal(((await api('/api/v1/events?source=hookyard-alerts')).items as any[]).length, 2, 'nor became an alert event');
});

test('an issue change recorded before the console died is published when it starts again', { timeout: 120_000 }, async () => {
  await stopConsole();
  // What a console killed between recording the change and publishing it leaves: the outbox row.
  const store = new SqliteStore({ path: join(dir, 'index.db') });
  const before = slack.received.length;
  const [change] = await store.recordIssues([{ issueId: 'dead0000000000000000', kind: 'delivery', target: 'billing', title: 'billing: HTTP 502', occurrence: 'x/0/1', eventId: null, at: Date.now(), sample: '502' }]);
  assert.equal(change!.change, 'opened');
  assert.equal((await store.unpublishedIssueChanges(10)).length, 1);
  await store.close();
  const a = await infra();
  const again = buildConsole({ config: testConfig(raw), env: runtimeFor(a), log: quietLog });
  stopConsole = () => again.close();
  consoleUrl = await whenReady(await again.start({ port: 0 }));
  await slack.waitFor(before + 1, 60_000);
  assertSlack(bodies(slack)[before], /^New issue: billing: HTTP 502$/);
});
