// Config versions end to end: `hookyard config apply` under steady load switches the
// running ingress, router and deliverer without a restart — nothing lost, no transaction
// routed by two versions (read back from what was committed) — a bad draft changes
// nothing, rollback restores the earlier routing, and secrets rotate with no gap.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import { stringify } from 'yaml';
import { Kafka, logLevel } from 'kafkajs';
import { EnvelopeCodec, parseConfig, topicNames, type Config, type Delivery, type RoutingDecision } from '@hookyard/core';
import type { StackAddresses } from '../../scripts/infra/local-stack.ts';
import { consoleClient } from '../../services/replayer/src/console-client.ts';
import { cli } from '../support/cli.ts';
import { infra, uniquePrefix } from '../support/infra.ts';
import { startSink, type Sink } from '../support/sink.ts';
import { startPipeline } from '../support/pipeline.ts';

const TOKEN = 'config-test-token-0123456789';
const OLD = 'the-old-github-secret';
const NEW = 'the-new-github-secret';
const SIGN_OLD = `whsec_${Buffer.from('an-old-signing-secret-32-bytes!!').toString('base64')}`;
const SIGN_NEW = `whsec_${Buffer.from('a-new-signing-secret-of-32-bytes').toString('base64')}`;
// The services resolve ${VAR} references from their environment, as in production.
Object.assign(process.env, { CFGT_GH_OLD: OLD, CFGT_GH_NEW: NEW, CFGT_SIGN_OLD: SIGN_OLD, CFGT_SIGN_NEW: SIGN_NEW });

let a: StackAddresses;
let billing: Sink;
let crm: Sink;
let moved: Sink;
let ledger: Sink;
let prefix: string;
let fileConfig: Config;
let ingressUrl = '';
let consoleUrl = '';
const dir = mkdtempSync(join(tmpdir(), 'hookyard-config-'));
const closers: (() => Promise<unknown>)[] = [];

/** A config document as operators write it: secrets as ${VAR} references. */
function doc(opts: { secrets: string[]; signing: string[]; crmFilter?: unknown; crm?: boolean; billingUrl?: string; ledgerUrl?: string; extra?: Record<string, unknown> }): Record<string, unknown> {
  return {
    kafka: { topicPrefix: prefix, partitions: 3 },
    console: { apiTokens: [{ name: 'ops', token: TOKEN }], store: { type: 'sqlite', path: join(dir, 'index.db') } },
    sources: [{ name: 'shop', orderingKey: 'body.customer', verify: { type: 'github', secret: opts.secrets.length === 1 ? opts.secrets[0] : opts.secrets } }],
    destinations: [
      { name: 'billing', url: opts.billingUrl ?? billing.url, signingSecret: opts.signing.length === 1 ? opts.signing[0] : opts.signing, retry: { schedule: [0, 200, 200] } },
      { name: 'crm', url: crm.url, retry: { schedule: [0, 200, 200] } },
      ...(opts.ledgerUrl ? [{ name: 'ledger', url: opts.ledgerUrl }] : []),
    ],
    connections: [
      { source: 'shop', destination: 'billing' },
      ...(opts.crm ? [{ source: 'shop', destination: 'crm', ...(opts.crmFilter ? { filter: opts.crmFilter } : {}) }] : []),
      ...(opts.ledgerUrl ? [{ source: 'shop', destination: 'ledger' }] : []),
    ],
    ...opts.extra,
  };
}

function writeDoc(name: string, d: Record<string, unknown> | string): string {
  const file = join(dir, name);
  writeFileSync(file, typeof d === 'string' ? d : stringify(d));
  return file;
}

const run = (argv: string[]) => cli(a, fileConfig, argv);

let seq = 0;
async function send(secret: string, extra: Record<string, unknown> = {}): Promise<{ status: number; id?: string }> {
  const n = seq++;
  const body = JSON.stringify({ customer: `cus_${n % 7}`, n, kind: n % 2 === 0 ? 'even' : 'odd', ...extra });
  const res = await fetch(`${ingressUrl}/webhooks/shop`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': await sign(secret, body) },
  });
  const answer = (await res.json()) as { id?: string };
  return { status: res.status, ...(answer.id ? { id: answer.id } : {}) };
}

async function readyVersion(): Promise<string> {
  return ((await (await fetch(`${ingressUrl}/readyz`)).json()) as { configVersion: string }).configVersion;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every committed record of a topic (read_committed), in offset order per partition. */
async function committed<T extends RoutingDecision | Delivery>(topic: string): Promise<{ partition: number; value: T }[]> {
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  const out: { partition: number; offset: number; value: T }[] = [];
  const consumer = kafka.consumer({ groupId: `${topic}-check-${Math.random().toString(36).slice(2)}`, readUncommitted: false });
  await consumer.connect();
  const todo = new Set(ends.filter((e) => Number(e.high) > 0).map((e) => e.partition));
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      if (todo.size === 0) return resolve();
      const timer = setTimeout(() => reject(new Error(`reading ${topic}: partitions ${[...todo].join(', ')} not read to the end`)), 30_000);
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const end = Number(ends.find((e) => e.partition === payload.partition)?.high ?? 0);
        if (Number(payload.lastOffset) >= end - 1) todo.delete(payload.partition);
        if (todo.size === 0) { clearTimeout(timer); resolve(); }
      });
      void consumer.run({ eachMessage: async ({ partition, message }) => { out.push({ partition, offset: Number(message.offset), value: await codec.decode<T>(message.value!) }); } });
    });
  } finally {
    await consumer.disconnect();
  }
  return out.sort((x, y) => x.partition - y.partition || x.offset - y.offset);
}

before(async () => {
  a = await infra();
  billing = await startSink();
  crm = await startSink();
  moved = await startSink();
  ledger = await startSink();
  prefix = uniquePrefix('cfg');
  const text = stringify(doc({ secrets: ['${CFGT_GH_OLD}'], signing: ['${CFGT_SIGN_OLD}'] }));
  fileConfig = parseConfig(text, process.env, 'hookyard.yaml');
  closers.push(() => billing.close(), () => crm.close(), () => moved.close(), () => ledger.close());
  const pipeline = await startPipeline(a, fileConfig);
  ({ ingressUrl, consoleUrl } = pipeline);
  closers.unshift(() => pipeline.close());
});

after(async () => {
  for (const c of closers) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

test('with no version applied, services run their file; history says so', async () => {
  assert.match(await readyVersion(), /^file@[0-9a-f]{12}$/);
  const h = await run(['config', 'history']);
  assert.equal(h.code, 0, h.notes.join('\n'));
  assert.match(h.notes.join('\n'), /no version applied/);
});

test('a bad draft is refused with errors by path and changes nothing', async () => {
  const bad = doc({ secrets: ['${CFGT_GH_OLD}'], signing: ['${CFGT_SIGN_OLD}'], crm: true });
  (bad.connections as Record<string, unknown>[]).push({ source: 'shop', destination: 'nowhere' }, { source: 'shop', destination: 'crm', transform: '{ "body": ' });
  (bad.destinations as Record<string, unknown>[])[1]!.timeoutMs = -5;
  const r = await run(['config', 'apply', writeDoc('bad.yaml', bad)]);
  assert.equal(r.code, 2);
  const said = r.notes.join('\n');
  assert.match(said, /connections\[2\]\.destination: unknown destination "nowhere"/);
  assert.match(said, /connections\[3\]\.transform: /);
  assert.match(said, /destinations\[1\]\.timeoutMs: must be greater than 0/);
  const h = await run(['config', 'history', '--json']);
  assert.deepEqual(JSON.parse(h.lines[0]!), []);
  assert.match(await readyVersion(), /^file@/);
});

test('apply under steady load: routing changes at once, nothing lost, each transaction routed by one version', { timeout: 120_000 }, async () => {
  const ids: string[] = [];
  let stop = false;
  const load = (async () => {
    // About 150 events/s from 3 senders until told to stop.
    await Promise.all([0, 1, 2].map(async () => {
      while (!stop) {
        const r = await send(OLD);
        assert.equal(r.status, 202);
        ids.push(r.id!);
        await new Promise((x) => setTimeout(x, 20));
      }
    }));
  })();
  await until('some events routed by the file', () => billing.received.length >= 100);
  const applied = await run(['config', 'apply', writeDoc('v1.yaml', doc({ secrets: ['${CFGT_GH_OLD}'], signing: ['${CFGT_SIGN_OLD}'], crm: true, crmFilter: { body: { kind: 'even' } } })), '--message', 'even events to crm', '--by', 'ada']);
  assert.equal(applied.code, 0, applied.notes.join('\n'));
  assert.match(applied.lines[0]!, /^applied v1 .* by ada .*"even events to crm"/);
  await until('events routed by v1 reach crm', () => crm.received.length >= 50);
  stop = true;
  await load;
  const sent = new Set(ids);
  await until(`all ${sent.size} events at billing`, () => new Set(billing.received.map((r) => r.headers['x-hookyard-event-id'] as string)).size >= sent.size, 60_000);

  const topics = topicNames(prefix);
  const decisions = await committed<RoutingDecision>(topics.decisions);
  const byEvent = new Map(decisions.map((d) => [d.value.eventId, d.value]));
  // Nothing lost: every accepted event was routed, and every one reached billing.
  assert.equal(byEvent.size, sent.size);
  for (const id of sent) assert.ok(byEvent.has(id), `event ${id} has no routing decision`);
  const atBilling = new Set(billing.received.map((r) => r.headers['x-hookyard-event-id'] as string));
  for (const id of sent) assert.ok(atBilling.has(id), `event ${id} never reached billing`);
  // Per raw-events partition (decisions share it), the version only moves forward: file, then v1.
  const fileLabel = decisions[0]!.value.configVersion;
  assert.match(fileLabel ?? '', /^file@/);
  const perPartition = new Map<number, string[]>();
  for (const d of decisions) {
    const list = perPartition.get(d.partition) ?? [];
    list.push(d.value.configVersion ?? 'none');
    perPartition.set(d.partition, list);
  }
  for (const [p, list] of perPartition) {
    const firstV1 = list.indexOf('v1');
    assert.ok(firstV1 > 0, `partition ${p}: routed by the file, then by v1 (${list.length} decisions)`);
    assert.ok(list.slice(0, firstV1).every((x) => x === fileLabel) && list.slice(firstV1).every((x) => x === 'v1'), `partition ${p} went back to an older version`);
  }
  // What one version decided is what it produced: an event's deliveries carry its decision's version,
  // and crm got exactly the even events routed by v1.
  const billingRecords = await committed<Delivery>(topics.delivery('billing'));
  assert.equal(billingRecords.length, sent.size);
  for (const r of billingRecords) assert.equal(r.value.configVersion, byEvent.get(r.value.eventId)!.configVersion);
  const crmRecords = await committed<Delivery>(topics.delivery('crm'));
  const expectedCrm = [...byEvent.values()].filter((d) => d.configVersion === 'v1' && d.decisions.some((x) => x.destination === 'crm' && x.outcome === 'matched'));
  assert.ok(expectedCrm.length > 0);
  assert.deepEqual(new Set(crmRecords.map((r) => r.value.eventId)), new Set(expectedCrm.map((d) => d.eventId)));
  for (const r of crmRecords) assert.equal(JSON.parse(r.value.body.toString()).kind, 'even');
  for (const d of byEvent.values()) if (d.configVersion === fileLabel) assert.ok(!d.decisions.some((x) => x.destination === 'crm'), 'the file has no crm connection');
  await until('crm has every delivery', () => new Set(crm.received.map((r) => r.headers['x-hookyard-event-id'])).size >= expectedCrm.length);
  assert.equal(await readyVersion(), 'v1');

  const h = await run(['config', 'history']);
  assert.match(h.lines[0]!, /^v1 .* by ada .*"even events to crm"/);
});

test('rotation: both secrets verify during the overlap, at ingress and at the destination; the old one stops after a later apply', { timeout: 120_000 }, async () => {
  const overlap = await run(['config', 'apply', writeDoc('v2.yaml', doc({ secrets: ['${CFGT_GH_NEW}', '${CFGT_GH_OLD}'], signing: ['${CFGT_SIGN_NEW}', '${CFGT_SIGN_OLD}'], crm: true, crmFilter: { body: { kind: 'even' } } }))]);
  assert.equal(overlap.code, 0, overlap.notes.join('\n'));
  // Providers still sign with the old secret while the new one is rolled out: no 401 at any moment.
  const answers: number[] = [];
  let switched = false;
  const t0 = Date.now();
  while (!switched || Date.now() - t0 < 1500) {
    answers.push((await send(OLD)).status);
    if (switched) answers.push((await send(NEW)).status);
    switched ||= (await readyVersion()) === 'v2';
    if (Date.now() - t0 > 30_000) assert.fail('ingress did not switch to v2');
  }
  assert.deepEqual([...new Set(answers)], [202], 'every request signed with either secret is accepted');
  // The destination gets one signature per secret once the deliverer runs v2 (a moment
  // after ingress): its old and new verifiers both accept.
  const verifies = (secret: string, x: { body: Buffer; headers: Record<string, unknown> }): boolean => {
    try {
      new Webhook(secret).verify(x.body.toString(), x.headers as Record<string, string>);
      return true;
    } catch {
      return false;
    }
  };
  const marked = (m: string) => billing.received.filter((x) => x.body.toString().includes(m));
  await until('a delivery signed with both secrets', async () => {
    const m = `rotation-${seq}`;
    assert.equal((await send(NEW, { marker: m })).status, 202);
    await until('its delivery', () => marked(m).length > 0);
    return marked(m).every((x) => verifies(SIGN_NEW, x) && verifies(SIGN_OLD, x));
  });

  const done = await run(['config', 'apply', writeDoc('v3.yaml', doc({ secrets: ['${CFGT_GH_NEW}'], signing: ['${CFGT_SIGN_NEW}'], crm: true, crmFilter: { body: { kind: 'even' } } }))]);
  assert.equal(done.code, 0, done.notes.join('\n'));
  await until('ingress runs v3', async () => (await readyVersion()) === 'v3');
  assert.equal((await send(OLD)).status, 401);
  await until('a delivery signed with the new secret only', async () => {
    const m = `after-${seq}`;
    assert.equal((await send(NEW, { marker: m })).status, 202);
    await until('its delivery', () => marked(m).length > 0);
    return marked(m).every((x) => verifies(SIGN_NEW, x) && !verifies(SIGN_OLD, x));
  });
});

test('a destination URL changes at the next attempt, a new destination is delivered to; rollback restores the earlier routing; diff and show', { timeout: 120_000 }, async () => {
  const v4 = await run(['config', 'apply', writeDoc('v4.yaml', doc({ secrets: ['${CFGT_GH_NEW}'], signing: ['${CFGT_SIGN_NEW}'], crm: false, billingUrl: moved.url, ledgerUrl: ledger.url }))]);
  assert.equal(v4.code, 0, v4.notes.join('\n'));
  await until('ingress runs v4', async () => (await readyVersion()) === 'v4');
  // The router and deliverer switch on their own (a moment apart): send until one lands at the new URL.
  let id = '';
  await until('a delivery at the moved URL', async () => {
    if (moved.received.length > 0) return true;
    id = (await send(NEW, { kind: 'even' })).id!;
    await new Promise((x) => setTimeout(x, 200));
    return false;
  });
  const crmBefore = crm.received.length;
  const probe = (await send(NEW, { kind: 'even', marker: 'v4-probe' })).id!;
  await until('the v4 probe at the moved URL', () => moved.received.some((x) => x.headers['x-hookyard-event-id'] === probe));
  assert.ok(id);
  assert.equal(crm.received.filter((x) => x.body.toString().includes('v4-probe')).length, 0, 'v4 has no crm connection');
  // A destination that only v4 has: its topic is created and the deliverer subscribes to it.
  await until('the v4 probe at the new destination', () => ledger.received.some((x) => x.headers['x-hookyard-event-id'] === probe));

  const rb = await run(['config', 'rollback', '3', '--message', 'back to v3']);
  assert.equal(rb.code, 0, rb.notes.join('\n'));
  assert.match(rb.lines[0]!, /^applied v5 .*\(rollback to v3\)/);
  await until('ingress runs v5', async () => (await readyVersion()) === 'v5');
  const marker = `rolled-back-${Date.now()}`;
  await until('an even event routed by v5 reaches crm and billing', async () => {
    await send(NEW, { kind: 'even', marker });
    await new Promise((x) => setTimeout(x, 300));
    return crm.received.some((x) => x.body.toString().includes(marker)) && billing.received.some((x) => x.body.toString().includes(marker));
  });
  assert.ok(crm.received.length > crmBefore);
  // The index and the trace say which version routed it (the console follows versions too).
  const routed = crm.received.find((x) => x.body.toString().includes(marker))!.headers['x-hookyard-event-id'] as string;
  let trace: { decisions: { destination: string; configVersion: string | null }[]; deliveries: { destination: string; state: string }[] } | undefined;
  await until('the trace of the rolled-back event', async () => {
    const res = await fetch(`${consoleUrl}/api/v1/events/${routed}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    trace = res.status === 200 ? await res.json() as typeof trace : undefined;
    return trace?.deliveries.some((d) => d.destination === 'crm' && d.state === 'delivered') ?? false;
  });
  assert.deepEqual([...new Set(trace!.decisions.map((d) => d.configVersion))], ['v5']);
  const shownTrace = await cli(a, fileConfig, ['events', 'show', routed], { console: (c) => consoleClient(c, { HOOKYARD_CONSOLE_URL: consoleUrl, HOOKYARD_API_TOKEN: TOKEN }) });
  assert.ok(shownTrace.lines.some((l) => /^routing \(config v5\):/.test(l)), shownTrace.lines.join('\n'));

  const diff = await run(['config', 'diff', 'v3', 'v4']);
  assert.equal(diff.code, 0, diff.notes.join('\n'));
  assert.ok(diff.lines.some((l) => l.startsWith('+') && l.includes(moved.url)), diff.lines.join('\n'));
  assert.ok(diff.lines.some((l) => l.startsWith('-') && l.includes('destination: crm')), diff.lines.join('\n'));
  const same = await run(['config', 'diff', '3', 'current']);
  assert.match(same.notes.join('\n'), /v3 and v5 are the same/);
  const shown = await run(['config', 'show', 'v5']);
  // Stored as written: the references, never the secrets.
  assert.ok(shown.lines.join('\n').includes('${CFGT_GH_NEW}'));
  assert.ok(!shown.lines.join('\n').includes(NEW));
  const again = await run(['config', 'apply', writeDoc('v5-again.yaml', shown.lines.join('\n') + '\n')]);
  assert.match(again.lines[0]!, /already current: v5/);
});
