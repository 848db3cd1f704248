// The event history against the whole pipeline on real Kafka, Redis, the registry and a
// real store (a SQLite file: console.test.ts; PostgreSQL: console-pg.test.ts): every state
// reached by driving it for real (a 500 then a 2xx, a 4xx, retries exhausted, filtered, a
// transform error, a paused destination, an open breaker, a replay, a refused request) and
// reported right by the query API and the CLI.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { consoleClient } from '../../../services/replayer/src/console-client.ts';
import type { StackAddresses } from '../../../scripts/infra/local-stack.ts';
import { cli } from '../../support/cli.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { scratchDatabase } from '../../support/postgres.ts';
import { startPipeline } from '../../support/pipeline.ts';
import { startSink, type Sink } from '../../support/sink.ts';
import { testConfig } from '../../support/stack.ts';

export function consoleScenarios(kind: 'sqlite' | 'postgres'): void {
  const TOKEN = 'test-token-0123456789abcdef';
  const dir = mkdtempSync(join(tmpdir(), 'hookyard-console-'));
  let a: StackAddresses;
  let sink: Sink;
  let fragile: Sink;
  let ingressUrl = '';
  let consoleUrl = '';
  let config: ReturnType<typeof testConfig>;
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    a = await infra();
    sink = await startSink();
    fragile = await startSink();
    fragile.respond = 503;
    // kind decides what the billing sink answers: flaky (500 once), reject (400), down (500 always), ok.
    const seen = new Map<string, number>();
    sink.respond = (_n, r) => {
      const body = JSON.parse(r.body.toString()) as { kind: string; n: number };
      const k = String(r.headers['webhook-id']); // per event and destination
      const count = (seen.get(k) ?? 0) + 1;
      seen.set(k, count);
      if (body.kind === 'reject') return 400;
      if (body.kind === 'down') return 500;
      if (body.kind === 'flaky' && count === 1) return 500;
      return 200;
    };
    const retry = { schedule: [0, 300, 600, 900], maxAttempts: 3 };
    let store: Record<string, unknown> = { type: 'sqlite', path: join(dir, 'index.db') };
    if (kind === 'postgres') {
      const db = await scratchDatabase('hookyard_console');
      closers.push(db.drop);
      store = { type: 'postgres', url: db.url };
    }
    config = testConfig({
      kafka: { topicPrefix: uniquePrefix(`console-${kind}`), partitions: 2 },
      // Small enough that one event below is over it (its body stays in Kafka only).
      console: { apiTokens: [{ name: 'ops', token: TOKEN }], store, maxBodyBytes: 4096 },
      sources: [
        { name: 'shop', orderingKey: 'body.customer', eventType: 'body.type', dedupKey: 'body.id' },
        { name: 'locked', verify: { type: 'bearer', token: 'the-right-token' } },
        { name: 'querykey', verify: { type: 'api-key', key: 'the-query-key-123', query: 'key' } },
      ],
      destinations: [
        { name: 'billing', url: sink.url, retry },
        { name: 'crm', url: sink.url, retry },
        { name: 'audit', url: sink.url, retry },
        { name: 'parked', url: sink.url, paused: true },
        { name: 'fragile', url: fragile.url, retry: { schedule: [0, 100, 100, 100, 100], maxAttempts: 20 }, breaker: { consecutiveFailures: 2, cooldownMs: 600_000 } },
      ],
      connections: [
        { source: 'shop', destination: 'billing' },
        { source: 'shop', destination: 'crm', filter: { body: { kind: 'ok' } } },
        { source: 'shop', destination: 'audit', transform: 'body.kind = "boom" ? $error("no audit for boom") : { "body": body }' },
        { source: 'shop', destination: 'parked', filter: { body: { kind: 'ok' } } },
        { source: 'shop', destination: 'fragile', filter: { body: { kind: 'fragile' } } },
      ],
    });
    closers.push(() => sink.close(), () => fragile.close());
    const pipeline = await startPipeline(a, config);
    ({ ingressUrl, consoleUrl } = pipeline);
    closers.unshift(() => pipeline.close());
  });

  after(async () => {
    for (const c of closers) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  async function api(path: string, token: string | null = TOKEN): Promise<{ status: number; body: any }> {
    const res = await fetch(`${consoleUrl}${path}`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  }

  async function send(kind: string, n: number): Promise<string> {
    const res = await fetch(`${ingressUrl}/webhooks/shop`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-shop': `shop-${n % 2}` },
      body: JSON.stringify({ id: `evt_${kind}_${n}`, type: kind === 'ok' ? 'invoice.paid' : `order.${kind}`, kind, n, customer: `cus_${n}`, note: `marker-${kind}` }),
    });
    assert.equal(res.status, 202);
    return ((await res.json()) as { id: string }).id;
  }

  /** Polls one event's trace until `done` holds (the index follows Kafka a moment behind). */
  async function traceUntil(id: string, done: (t: any) => boolean, what: string): Promise<any> {
    let last: any;
    for (let i = 0; i < 150; i++) {
      const r = await api(`/api/v1/events/${id}`);
      last = r.body;
      if (r.status === 200 && done(r.body)) return r.body;
      await new Promise((x) => setTimeout(x, 200));
    }
    assert.fail(`${what}: last answer ${JSON.stringify(last)}`);
  }

  const state = (t: any, dest: string) => t.deliveries.find((d: any) => d.destination === dest)?.state;

  test('every state, driven for real, in the trace', { timeout: 120_000 }, async () => {
    const ok = await send('ok', 1);
    const flaky = await send('flaky', 2);
    const reject = await send('reject', 3);
    const down = await send('down', 4);
    const boom = await send('boom', 5);
    const frag = await send('fragile', 6);

    const tOk = await traceUntil(ok, (t) => state(t, 'billing') === 'delivered' && state(t, 'crm') === 'delivered' && state(t, 'audit') === 'delivered' && t.deliveries.length === 4, 'ok delivered');
    assert.equal(tOk.event.source, 'shop');
    assert.equal(tOk.event.eventType, 'invoice.paid');
    assert.equal(tOk.event.webhookId, 'evt_ok_1');
    assert.equal(JSON.parse(tOk.event.body).customer, 'cus_1');
    assert.deepEqual(tOk.decisions.map((d: any) => [d.destination, d.outcome]), [['audit', 'matched'], ['billing', 'matched'], ['crm', 'matched'], ['fragile', 'filtered'], ['parked', 'matched']]);
    // Paused in the config: routed, never attempted, shown as held with why.
    assert.equal(state(tOk, 'parked'), 'held');
    assert.equal(tOk.deliveries.find((d: any) => d.destination === 'parked').hold.paused.by, 'config');

    const tFlaky = await traceUntil(flaky, (t) => state(t, 'billing') === 'delivered', 'flaky delivered on its second attempt');
    const billingAttempts = tFlaky.attempts.filter((x: any) => x.destination === 'billing');
    assert.deepEqual(billingAttempts.map((x: any) => [x.attempt, x.status, x.outcome]), [[1, 500, 'retry'], [2, 200, 'success']]);
    assert.ok(billingAttempts[0].nextAttemptAt);
    assert.deepEqual(tFlaky.decisions.filter((d: any) => d.destination === 'crm').map((d: any) => d.outcome), ['filtered']);

    const tReject = await traceUntil(reject, (t) => state(t, 'billing') === 'dead' && t.deadLetters.length >= 1, 'a 400 is dead at once');
    assert.equal(tReject.deliveries.find((d: any) => d.destination === 'billing').lastStatus, 400);
    assert.equal(tReject.deadLetters[0].stage, 'delivery');

    const tDown = await traceUntil(down, (t) => state(t, 'billing') === 'dead', 'retries exhausted');
    assert.equal(tDown.attempts.filter((x: any) => x.destination === 'billing').length, 3);

    const tBoom = await traceUntil(boom, (t) => state(t, 'audit') === 'dead', 'transform error');
    const d = tBoom.decisions.find((x: any) => x.destination === 'audit');
    assert.equal(d.outcome, 'transform_error');
    assert.match(d.error, /no audit for boom/);
    assert.equal(tBoom.deadLetters.find((x: any) => x.destination === 'audit').stage, 'transform');

    // Two 503s open the breaker: the delivery waits, shown as held.
    const tFrag = await traceUntil(frag, (t) => state(t, 'fragile') === 'held', 'breaker open → held');
    const fd = tFrag.deliveries.find((x: any) => x.destination === 'fragile');
    assert.equal(fd.storedState, 'retrying');
    assert.equal(fd.hold.breaker.state, 'open');

    // Search by what operators ask.
    const ids = async (q: string) => (await api(`/api/v1/events?${q}`)).body.items.map((i: any) => i.id);
    assert.deepEqual(await ids('destination=billing&state=dead'), [down, reject]);
    assert.deepEqual(await ids('state=held&destination=fragile'), [frag]);
    assert.deepEqual(await ids('eventType=order.*&status=500'), [down, flaky]);
    assert.deepEqual(await ids('match=body.customer%3Dcus_5'), [boom]);
    assert.deepEqual(await ids('match=headers.x-shop%3Dshop-1&q=marker-flaky'), []);
    assert.deepEqual(await ids('q=marker-reject'), [reject]);
    assert.deepEqual(await ids('webhookId=evt_down_4'), [down]);
    const page = await api('/api/v1/events?source=shop&limit=4');
    assert.equal(page.body.items.length, 4);
    const rest = await api(`/api/v1/events?source=shop&limit=4&cursor=${page.body.next}`);
    assert.deepEqual([...page.body.items, ...rest.body.items].map((i: any) => i.id), [frag, boom, down, reject, flaky, ok]);
    assert.equal(typeof page.body.index.totalLag, 'number');

    // The CLI, through the API.
    const client = () => consoleClient(config, { HOOKYARD_CONSOLE_URL: consoleUrl, HOOKYARD_API_TOKEN: TOKEN });
    const found = await cli(a, config, ['events', 'search', '--destination', 'billing', '--state', 'dead', '--json'], { console: client });
    assert.equal(found.code, 0, found.notes.join('\n'));
    assert.deepEqual(found.lines.map((l) => JSON.parse(l).id), [down, reject]);
    const shown = await cli(a, config, ['events', 'show', boom], { console: client });
    assert.equal(shown.code, 0, shown.notes.join('\n'));
    assert.ok(shown.lines.some((l) => /audit\s+transform_error\s+.*no audit for boom/.test(l)), shown.lines.join('\n'));
    const badState = await cli(a, config, ['events', 'search', '--state', 'lost'], { console: client });
    assert.equal(badState.code, 2);
    assert.match(badState.notes.join('\n'), /state: "lost" is not one of/);

    // A replay of the dead delivery: the trace says which replay, and it is delivered this time.
    sink.respond = 200;
    const replayed = await cli(a, config, ['replay', '--from', '10m', '--event-id', reject, '--destination', 'billing', '--json']);
    assert.equal(replayed.code, 0, replayed.notes.join('\n'));
    const replayId = JSON.parse(replayed.lines[0]!).replayId as string;
    const tReplayed = await traceUntil(reject, (t) => state(t, 'billing') === 'delivered', 'replayed and delivered');
    assert.equal(tReplayed.deliveries.find((x: any) => x.destination === 'billing').replayId, replayId);
    assert.deepEqual(await ids(`replayId=${replayId}`), [reject]);

    // Erase: gone from the index, and the answer says what Kafka still holds.
    const erased = await cli(a, config, ['events', 'erase', '--event-id', ok, '--json'], { console: client });
    assert.equal(erased.code, 0, erased.notes.join('\n'));
    assert.match(JSON.parse(erased.lines[0]!).kafka, /still in Kafka/);
    assert.equal((await api(`/api/v1/events/${ok}`)).status, 404);
  });

  test('refused requests are indexed with their reason, never their credentials', { timeout: 60_000 }, async () => {
    const res = await fetch(`${ingressUrl}/webhooks/locked`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-xyz', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    let items: any[] = [];
    for (let i = 0; i < 100 && items.length === 0; i++) {
      items = (await api('/api/v1/rejections?source=locked')).body.items;
      if (items.length === 0) await new Promise((x) => setTimeout(x, 200));
    }
    assert.equal(items.length, 1);
    assert.equal(items[0].status, 401);
    assert.equal(items[0].headers.authorization, '[redacted]');
    assert.ok(!JSON.stringify(items).includes('wrong-token-xyz'));
    // At rest the index reads as caught up: transaction markers do not count as lag.
    let index: any = {};
    for (let i = 0; i < 100 && index.totalLag !== 0; i++) {
      index = (await api('/api/v1/index')).body.index;
      if (index.totalLag !== 0) await new Promise((x) => setTimeout(x, 200));
    }
    assert.equal(index.totalLag, 0, JSON.stringify(index.lag));
    const metrics = await (await fetch(`${consoleUrl}/metrics`)).text();
    assert.match(metrics, /hookyard_console_index_lag\{topic="[^"]+routing-decisions"[^}]*\} 0$/m);
    const stats = await api('/api/v1/stats?from=1h&bucket=1m');
    assert.equal(stats.status, 200);
    assert.ok(stats.body.received.some((r: any) => r.source === 'shop' && r.count > 0));
    assert.ok(stats.body.deliveries.some((r: any) => r.destination === 'billing' && r.state === 'dead'));
  });

  test('accepted requests are indexed without their credentials: header, query key and signature redacted, not findable by words', { timeout: 60_000 }, async () => {
    const locked = await fetch(`${ingressUrl}/webhooks/locked`, { method: 'POST', headers: { authorization: 'Bearer the-right-token', 'content-type': 'application/json', 'x-note': 'kept' }, body: '{"n":1}' });
    assert.equal(locked.status, 202);
    const byQuery = await fetch(`${ingressUrl}/webhooks/querykey?key=the-query-key-123&shop=acme`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":2}' });
    assert.equal(byQuery.status, 202);
    const [l, q] = [((await locked.json()) as { id: string }).id, ((await byQuery.json()) as { id: string }).id];
    const tl = await traceUntil(l, (t) => t.event !== null, 'the bearer-authenticated event indexed');
    const tq = await traceUntil(q, (t) => t.event !== null, 'the query-key event indexed');
    assert.equal(tl.event.headers.authorization, '[redacted]');
    assert.equal(tl.event.headers['x-note'], 'kept', 'other headers are kept');
    assert.equal(new URLSearchParams(tq.event.query).get('key'), '[redacted]');
    assert.equal(new URLSearchParams(tq.event.query).get('shop'), 'acme');
    for (const secret of ['the-right-token', 'the-query-key-123']) {
      assert.ok(!JSON.stringify([tl, tq]).includes(secret), `${secret} is not in any trace`);
      assert.deepEqual((await api(`/api/v1/events?q=${secret}`)).body.items, [], `${secret} is not searchable`);
    }
  });

  test('a body over the index\'s limit: coordinates kept, not the body; events show reads it from Kafka with the index\'s story', { timeout: 60_000 }, async () => {
    const pad = 'big-body-'.repeat(1000);
    const res = await fetch(`${ingressUrl}/webhooks/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'evt_big_1', type: 'invoice.big', kind: 'ok', n: 99, customer: 'cus_99', pad }) });
    assert.equal(res.status, 202);
    const id = ((await res.json()) as { id: string }).id;
    const t = await traceUntil(id, (x) => x.event !== null && state(x, 'billing') === 'delivered', 'the big event indexed and delivered');
    assert.equal(t.event.bodyStored, false);
    assert.equal(t.event.body, null);
    assert.ok(t.event.bodySize > 9000);
    assert.match(t.event.kafka.topic, /raw-events$/);
    const client = () => consoleClient(config, { HOOKYARD_CONSOLE_URL: consoleUrl, HOOKYARD_API_TOKEN: TOKEN });
    const shown = await cli(a, config, ['events', 'show', id, '--json'], { console: client });
    assert.equal(shown.code, 0, shown.notes.join('\n'));
    const j = JSON.parse(shown.lines[0]!);
    assert.equal(j.event.bodyFrom, 'kafka');
    assert.equal(JSON.parse(j.event.body).pad, pad, 'the whole body, from Kafka');
    assert.ok(j.decisions.some((d: any) => d.destination === 'billing' && d.outcome === 'matched'), 'with the index\'s routing');
    const text = await cli(a, config, ['events', 'show', id], { console: client });
    assert.ok(text.lines.some((l) => /over the index's limit: read from Kafka at .*raw-events\/\d+@\d+/.test(l)), text.lines.join('\n'));
  });

  test('no token, a wrong token: 401; bad queries: 400 with the parameter named; injection attempts are values', { timeout: 30_000 }, async () => {
    assert.equal((await api('/api/v1/events', null)).status, 401);
    assert.equal((await api('/api/v1/events', 'not-the-token-at-all')).status, 401);
    assert.equal((await api('/api/v1/index', null)).status, 401);
    for (const [q, param] of [
      ['colour=red', 'colour'], ['from=yesterday-ish', 'from'], ['from=1h&to=2h', 'to'], ['state=lost', 'state'], ['status=99', 'status'], ['limit=0', 'limit'],
      ['match=body.a.b', 'match'], ['match=payload.a%3D1', 'match'], ['match=body.a..b%3D1', 'match'], ['match=body.a%27%3B--%3D1', 'match'], ['eventId=1%20OR%201%3D1', 'eventId'],
      ['cursor=%27%20OR%20%271%27%3D%271', 'cursor'], ['source=shop%27%3B%20DROP%20TABLE%20events%3B--', 'source'], ['destination=x%22%20OR%201%3D1', 'destination'],
      ['receipt=applied%27%20OR%201%3D1', 'receipt'], [`replayId=${'r'.repeat(101)}`, 'replayId'],
    ] as const) {
      const r = await api(`/api/v1/events?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.param, param, q);
      assert.ok(r.body.error.message.length > 10, q);
    }
    // The other read routes check their parameters the same way.
    for (const [path, param] of [
      ['/api/v1/stats?bucket=2m', 'bucket'], ['/api/v1/stats?from=1h%27--', 'from'], ['/api/v1/stats?from=30d&bucket=1m', 'bucket'],
      ['/api/v1/rejections?source=x%27%20OR%201%3D1', 'source'], ['/api/v1/rejections?cursor=%27%3B%20DROP%20TABLE%20rejections', 'cursor'], ['/api/v1/rejections?colour=red', 'colour'],
    ] as const) {
      const r = await api(path);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error.param, param, path);
    }
    assert.equal((await api("/api/v1/events?replayId=r%27%20OR%20%271%27%3D%271")).body.items.length, 0, 'a replay id is a value');
    assert.equal((await api('/api/v1/events/not-an-id')).status, 400);
    for (const q of ["q=%27%29%20OR%201%3D1%20--", 'q=NEAR%28a%20b%29%20OR%20*', "orderingKey=%27%20OR%20%271%27%3D%271", "webhookId=%22%3B%20DELETE%20FROM%20events", "eventType=%25"]) {
      const r = await api(`/api/v1/events?${q}`);
      assert.equal(r.status, 200, q);
      assert.deepEqual(r.body.items, [], q);
    }
    assert.ok((await api('/api/v1/index')).body.events > 0, 'nothing was dropped');
  });
}
