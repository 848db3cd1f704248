// Issues from real failures on the real pipeline: a destination answering 500 opens one
// delivery issue (however many attempts fail), resolving it and failing again reopens it,
// ignoring it keeps it quiet; a transform error and a burst of refusals open theirs; a
// paused destination's old backlog, a delivery left without a receipt past its SLA and a
// receipt saying failed open theirs and resolve by themselves once that ends, as ingress's
// 503s do (by an injected clock); the API and the CLI list, show and change them; every
// change reaches Slack once.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { RedisIngressHealth } from '../../../packages/core/src/index.ts';
import { DestinationWatch } from '../../../services/console/src/destination-watch.ts';
import { buildIngress } from '../../../services/ingress/src/app.ts';
import { consoleClient } from '../../../services/replayer/src/console-client.ts';
import type { StackAddresses } from '../../../scripts/infra/local-stack.ts';
import { cli } from '../../support/cli.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startPipeline, type Pipeline } from '../../support/pipeline.ts';
import { startSink, type Sink } from '../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../support/stack.ts';

const TOKEN = 'issues-test-token-0123456789';
const RECEIPTS_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const dir = mkdtempSync(join(tmpdir(), 'hookyard-issues-'));
let a: StackAddresses;
let pipeline: Pipeline;
let sink: Sink;
let fragile: Sink;
let slack: Sink;
let gone: Sink;
let slow: Sink;
let ledger: Sink;
let ingressUrl = '';
let consoleUrl = '';
let config: ReturnType<typeof testConfig>;
const closers: (() => Promise<unknown>)[] = [];

before(async () => {
  a = await infra();
  sink = await startSink();
  sink.respond = 500;
  fragile = await startSink();
  fragile.respond = 503;
  gone = await startSink();
  gone.respond = 410;
  slack = await startSink();
  slow = await startSink();
  ledger = await startSink();
  config = testConfig({
    kafka: { topicPrefix: uniquePrefix('issues'), partitions: 2 },
    // A backlog is old after 3 s here, and an issue recovered after 2 s of quiet.
    console: { apiTokens: [{ name: 'ops', token: TOKEN }], store: { type: 'sqlite', path: join(dir, 'index.db') }, issues: { refusalsPerMinute: 3, deadLettersPerHour: 2, backlogAgeSeconds: 3, recoveryQuietSeconds: 2 } },
    sources: [{ name: 'shop' }, { name: 'locked', verify: { type: 'bearer', token: 'the-right-token' } }],
    destinations: [
      { name: 'billing', url: sink.url, retry: { schedule: [0, 100, 100], maxAttempts: 3 } },
      { name: 'audit', url: sink.url },
      { name: 'fragile', url: fragile.url, retry: { schedule: [0, 100, 100, 100, 100, 100, 100, 100], maxAttempts: 30 }, breaker: { consecutiveFailures: 2, cooldownMs: 1000 } },
      { name: 'gone', url: gone.url },
      { name: 'slow', url: slow.url },
      { name: 'ledger', url: ledger.url, receipts: { secret: RECEIPTS_SECRET, slaSeconds: 4 } },
    ],
    // Every issue change to one Slack channel (no rules), flapping included: checked at the end, one message per change.
    alerts: { channels: [{ name: 'oncall', type: 'slack', url: slack.url }], reopenIntervalSeconds: 0 },
    connections: [
      { source: 'shop', destination: 'billing', filter: { body: { kind: { $exist: false } } } },
      { source: 'shop', destination: 'fragile', filter: { body: { kind: 'fragile' } } },
      { source: 'shop', destination: 'gone', filter: { body: { kind: 'gone' } } },
      { source: 'shop', destination: 'slow', filter: { body: { kind: 'slow' } } },
      { source: 'shop', destination: 'ledger', filter: { body: { kind: 'ledger' } } },
      { source: 'shop', destination: 'audit', transform: 'body.kind = "boom" ? $error("no audit for boom") : { "body": body }', filter: { body: { kind: 'boom' } } },
    ],
  });
  pipeline = await startPipeline(a, config);
  ({ ingressUrl, consoleUrl } = pipeline);
  closers.push(() => pipeline.close(), () => sink.close(), () => fragile.close(), () => gone.close(), () => slack.close(), () => slow.close(), () => ledger.close());
});

after(async () => {
  for (const c of closers) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const api = async (path: string, method = 'GET') => {
  const res = await fetch(`${consoleUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: (await res.json()) as any };
};
const send = async (body: unknown, source = 'shop') => {
  const res = await fetch(`${ingressUrl}/webhooks/${source}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
};
async function until<T>(f: () => Promise<T | undefined>, what: string, tries = 150): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(what);
}
const changes = async () => {
  const text = await (await fetch(`${consoleUrl}/metrics`)).text();
  const n = (kind: string, change: string) => Number(new RegExp(`^hookyard_issues_changed_total\\{[^}]*kind="${kind}"[^}]*change="${change}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { opened: n('delivery', 'opened'), reopened: n('delivery', 'reopened') };
};
const texts = () => slack.received.map((r) => (JSON.parse(r.body.toString()) as { text: string }).text);
/** Waits until Slack said `text` (once), then a moment for a second one to show up. */
async function saidOnce(text: string): Promise<void> {
  await until(async () => (texts().includes(text) ? true : undefined), `Slack: ${text} (got ${JSON.stringify(texts())})`);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(texts().filter((t) => t === text).length, 1, `Slack said it once: ${text}`);
}
const resolvedByItself = (id: string, what: string) => until(async () => {
  const i = (await api(`/api/v1/issues/${id}`)).body;
  return i.state === 'resolved' ? i : undefined;
}, `${what} resolved by itself`, 300);
/** The receiving application's receipt for one delivery, signed the Standard Webhooks way. */
async function postReceipt(webhookId: string, status: 'applied' | 'failed', detail: string | null): Promise<void> {
  const payload = JSON.stringify({ webhookId, status, detail });
  const msgId = `msg_${randomUUID()}`;
  const at = new Date();
  const res = await fetch(`${ingressUrl}/receipts/ledger`, {
    method: 'POST', body: payload,
    headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(RECEIPTS_SECRET).sign(msgId, at, payload) },
  });
  assert.equal(res.status, 202, await res.text());
}
const billingIssue = async (minCount: number) => until(async () => {
  const items = (await api('/api/v1/issues?state=open&state=acknowledged&state=resolved&state=ignored&kind=delivery')).body.items as any[];
  const i = items.find((x) => x.title === 'billing: HTTP 500');
  return i && i.count >= minCount ? i : undefined;
}, `a billing issue with ${minCount} failures`);

test('a destination answering 500: one issue, counted per failed attempt; resolve then fail again: reopened; ignored: stays', { timeout: 120_000 }, async () => {
  const e1 = await send({ order: 1 });
  const e2 = await send({ order: 2 });
  const issue = await billingIssue(6);
  assert.equal(issue.state, 'open');
  assert.equal(issue.events, 2);
  assert.deepEqual(await changes(), { opened: 1, reopened: 0 }, 'one issue opened for six failed attempts');
  const shown = await api(`/api/v1/issues/${issue.id}`);
  assert.deepEqual(new Set(shown.body.events), new Set([e1, e2]));
  assert.match(shown.body.sample, /500/);

  // The CLI: list, show, resolve.
  const client = () => consoleClient(config, { HOOKYARD_CONSOLE_URL: consoleUrl, HOOKYARD_API_TOKEN: TOKEN });
  const list = await cli(a, config, ['issues', 'list'], { console: client });
  assert.equal(list.code, 0, list.notes.join('\n'));
  assert.ok(list.lines.some((l) => l.startsWith(issue.id) && l.includes('billing: HTTP 500') && l.includes('open')), list.lines.join('\n'));
  const show = await cli(a, config, ['issues', 'show', issue.id], { console: client });
  assert.match(show.lines.join('\n'), /seen \d+× from/);
  const resolved = await cli(a, config, ['issues', 'resolve', issue.id, '--json'], { console: client });
  assert.equal(JSON.parse(resolved.lines[0]!).state, 'resolved');
  assert.equal((await cli(a, config, ['issues', 'resolve', '00000000000000000000'], { console: client })).code, 2);

  // Recurs: reopened, once.
  await send({ order: 3 });
  const again = await until(async () => { const i = (await api(`/api/v1/issues/${issue.id}`)).body; return i.state === 'open' ? i : undefined; }, 'reopened');
  assert.equal(again.reopened, 1);
  assert.deepEqual(await changes(), { opened: 1, reopened: 1 });

  // Ignored: it keeps counting and stays ignored.
  assert.equal((await api(`/api/v1/issues/${issue.id}/ignore`, 'POST')).body.state, 'ignored');
  await send({ order: 4 });
  const quiet = await billingIssue(again.count + 3);
  assert.equal(quiet.state, 'ignored');
  assert.deepEqual(await changes(), { opened: 1, reopened: 1 });
  // Changing state needs a token: a browser session may only read.
  assert.equal((await fetch(`${consoleUrl}/api/v1/issues/${issue.id}/ack`, { method: 'POST' })).status, 401);
});

test('a transform error and a burst of refusals each open their issue; a few refusals do not', { timeout: 60_000 }, async () => {
  await send({ kind: 'boom' });
  await until(async () => ((await api('/api/v1/issues?kind=transform')).body.items as any[]).find((i) => i.target === 'shop → audit' && /no audit for boom/.test(i.title)), `a transform issue (${JSON.stringify((await api('/api/v1/issues?state=open')).body.items.map((i: any) => i.title))})`);
  const refuse = () => fetch(`${ingressUrl}/webhooks/locked`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-123' }, body: '{}' });
  for (let i = 0; i < 2; i++) assert.equal((await refuse()).status, 401);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual((await api('/api/v1/issues?kind=refusal')).body.items, [], 'two refusals: below the rate');
  assert.equal((await refuse()).status, 401);
  const r = await until(async () => ((await api('/api/v1/issues?kind=refusal')).body.items as any[])[0], 'a refusal issue at three a minute');
  assert.equal(r.title, 'locked: requests refused (bad_credentials)');
  assert.equal(r.count, 3);
  assert.equal((await api('/api/v1/issues?state=lost')).body.error.param, 'state');
});

test('dead letters above their rate, an open breaker and a destination paused by a 410 open issues; the last two resolve by themselves', { timeout: 120_000 }, async () => {
  // The first test's dead letters to billing (2 an hour is the limit here).
  await until(async () => ((await api('/api/v1/issues?kind=dead_letters&state=open&state=resolved&state=ignored&state=acknowledged')).body.items as any[]).find((i) => i.title === 'billing: 2+ dead letters in an hour'), 'a dead-letter issue');
  const find = (kind: string, title: string) => until(async () => ((await api(`/api/v1/issues?kind=${kind}&state=open&state=resolved`)).body.items as any[]).find((i) => i.title === title), `${kind}: ${title}`);
  await send({ kind: 'fragile' });
  const breaker = await find('breaker', 'fragile: circuit breaker open');
  assert.equal(breaker.state, 'open');
  fragile.respond = 200;
  const closed = await until(async () => { const i = (await api(`/api/v1/issues/${breaker.id}`)).body; return i.state === 'resolved' ? i : undefined; }, 'resolved when the breaker closed');
  assert.equal(closed.stateBy, 'hookyard');
  await send({ kind: 'gone' });
  const paused = await find('paused', 'gone: paused by the deliverer');
  assert.match(paused.sample, /410 Gone/);
  const resumed = await cli(a, config, ['destination', 'resume', 'gone']);
  assert.equal(resumed.code, 0, resumed.notes.join('\n'));
  const back = await until(async () => { const i = (await api(`/api/v1/issues/${paused.id}`)).body; return i.state === 'resolved' ? i : undefined; }, 'resolved when resumed');
  assert.equal(back.stateBy, 'hookyard');
});

test('a paused destination whose backlog grows older than backlogAgeSeconds: one backpressure issue, one alert; drained, it resolves by itself, one alert', { timeout: 180_000 }, async () => {
  const paused = await cli(a, config, ['destination', 'pause', 'slow']);
  assert.equal(paused.code, 0, paused.notes.join('\n'));
  await send({ kind: 'slow', n: 1 });
  await send({ kind: 'slow', n: 2 });
  const ofSlow = async () => ((await api('/api/v1/issues?kind=backpressure&state=open&state=resolved')).body.items as any[]).filter((i) => i.target === 'slow');
  const issue = await until(async () => (await ofSlow())[0], 'a backpressure issue for slow', 300);
  assert.equal(issue.title, 'slow: backlog older than 3 s');
  assert.equal(issue.state, 'open');
  // Pending counts Kafka offsets: the router's transaction markers too.
  assert.match(issue.sample, /^\d+ pending, the oldest \d+ s old$/);
  await saidOnce('New issue: slow: backlog older than 3 s');
  const resumed = await cli(a, config, ['destination', 'resume', 'slow']);
  assert.equal(resumed.code, 0, resumed.notes.join('\n'));
  await slow.waitFor(2, 30_000);
  assert.equal((await resolvedByItself(issue.id, 'the backlog')).stateBy, 'hookyard');
  await saidOnce('Resolved: slow: backlog older than 3 s');
});

test('receipts: a delivery without a receipt past its SLA and a receipt saying failed open one issue each, one alert each; a receipt saying applied resolves both by themselves', { timeout: 120_000 }, async () => {
  const receiptsIssue = (title: RegExp) => until(async () => ((await api('/api/v1/issues?kind=receipts')).body.items as any[]).find((i) => title.test(i.title)), `a receipts issue ${title}`);
  const silent = await send({ kind: 'ledger', n: 1 });
  const sla = await receiptsIssue(/not confirmed/);
  assert.equal(sla.title, 'ledger: deliveries not confirmed within 4 s (applied unknown)');
  assert.deepEqual((await api(`/api/v1/issues/${sla.id}`)).body.events, [silent]);
  await saidOnce(`New issue: ${sla.title}`);
  // The receiver says it could not apply the next one: an issue of its own (the delivery itself succeeded).
  const refused = await send({ kind: 'ledger', n: 2 });
  await ledger.waitFor(2);
  await postReceipt(`${refused}.ledger`, 'failed', 'ledger closed');
  const failed = await receiptsIssue(/failed to apply/);
  assert.deepEqual([failed.title, failed.sample, failed.count], ['ledger: receipts say events failed to apply', 'ledger closed', 1]);
  assert.deepEqual((await api(`/api/v1/issues/${failed.id}`)).body.events, [refused]);
  await saidOnce(`New issue: ${failed.title}`);
  // It works again: the next delivery is confirmed as applied.
  const ok = await send({ kind: 'ledger', n: 3 });
  await ledger.waitFor(3);
  await postReceipt(`${ok}.ledger`, 'applied', null);
  for (const i of [sla, failed]) {
    assert.equal((await resolvedByItself(i.id, i.title)).stateBy, 'hookyard');
    await saidOnce(`Resolved: ${i.title}`);
  }
  assert.equal(((await api('/api/v1/issues?kind=receipts&state=open&state=acknowledged&state=resolved&state=ignored')).body.items as any[]).length, 2);
});

test('ingress answering 503 (Kafka unreachable) opens the ingress issue, through Redis; two minutes without one resolve it by itself', { timeout: 60_000 }, async () => {
  // A second ingress of this deployment whose Kafka is unreachable: every event gets a 503.
  const cut = buildIngress({ config, env: { ...runtimeFor(a), brokers: ['127.0.0.1:1'] }, log: quietLog });
  const url = await cut.start({ port: 0, host: '127.0.0.1' });
  try {
    const res = await fetch(`${url}/webhooks/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"order":99}' });
    assert.equal(res.status, 503);
  } finally {
    await cut.close();
  }
  const i = await until(async () => ((await api('/api/v1/issues?kind=ingress')).body.items as any[])[0], 'an ingress issue');
  assert.equal(i.state, 'open');
  assert.match(i.sample, /^1 requests answered 503/);
  await saidOnce(`New issue: ${i.title}`);
  // The console's own watch, on the same Redis and store, three minutes from now by its clock:
  // no 503 in the last two minutes, so it resolves the issue, and the resolve is alerted.
  const health = new RedisIngressHealth(a.REDIS_URL, config.kafka.topicPrefix);
  try {
    const watch = new DestinationWatch({ ...config, destinations: [] }, pipeline.console.store()!, { holds: async () => new Map() }, () => {}, quietLog, health);
    await watch.check(Date.now() + 180_000);
  } finally {
    await health.close();
  }
  const resolved = (await api(`/api/v1/issues/${i.id}`)).body;
  assert.deepEqual([resolved.state, resolved.stateBy], ['resolved', 'hookyard']);
  await saidOnce(`Resolved: ${i.title}`);
});

test('every issue change above was alerted, once: each opening, reopening and resolve, nothing for the ignored one', { timeout: 90_000 }, async () => {
  // Opened: every issue; reopened: as often as each was; resolved: before each reopening, and
  // once more if resolved now (by the CLI or by itself: issues whose cause ended meanwhile,
  // a burst of refusals once the minute is over, say, resolve while this runs — so the
  // expectation is read again until the two agree twice in a row).
  const now = async () => {
    const all = (await api('/api/v1/issues?state=open&state=acknowledged&state=resolved&state=ignored&limit=100')).body.items as any[];
    const expected = [
      ...all.map((i) => `New issue: ${i.title}`),
      ...all.flatMap((i) => Array.from({ length: i.reopened }, () => `Reopened: ${i.title}`)),
      ...all.flatMap((i) => Array.from({ length: i.reopened + (i.state === 'resolved' ? 1 : 0) }, () => `Resolved: ${i.title}`)),
    ].sort();
    return { all, expected, got: texts().sort() };
  };
  let last = await now();
  const deadline = Date.now() + 45_000;
  for (let agreed = 0; agreed < 2 && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, agreed > 0 ? 1_000 : 250));
    last = await now();
    agreed = JSON.stringify(last.got) === JSON.stringify(last.expected) ? agreed + 1 : 0;
  }
  assert.deepEqual(last.got, last.expected);
  // Among them, the resolves the tests above made: by the CLI, and by hookyard when the cause ended.
  for (const t of ['billing: HTTP 500', 'fragile: circuit breaker open', 'fragile: HTTP 503', 'gone: paused by the deliverer', 'slow: backlog older than 3 s',
    'ledger: deliveries not confirmed within 4 s (applied unknown)', 'ledger: receipts say events failed to apply', 'ingress: answering 503 (events not captured; providers will retry)']) {
    assert.ok(last.got.includes(`Resolved: ${t}`), `resolved: ${t}`);
  }
  assert.ok(['delivery', 'transform', 'refusal', 'backpressure', 'receipts', 'dead_letters', 'breaker', 'paused', 'ingress'].every((k) => last.all.some((i) => i.kind === k)), 'each kind of issue was alerted');
});
