// Outcome receipts end to end on the real pipeline: the receiving application signs a
// receipt with the standardwebhooks SDK and POSTs it to ingress; forged, stale, replayed and
// unknown-webhook-id receipts are refused (and recorded); the index shows applied / failed,
// a delivery with no receipt past its SLA becomes "applied unknown" exactly once, and each of
// the two is an issue of the destination's.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startPipeline } from '../../support/pipeline.ts';
import { startSink, type Sink } from '../../support/sink.ts';
import { testConfig } from '../../support/stack.ts';

const TOKEN = 'receipts-test-token-0123456789';
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const dir = mkdtempSync(join(tmpdir(), 'hookyard-receipts-'));
let sink: Sink;
let ingressUrl = '';
let consoleUrl = '';
const closers: (() => Promise<unknown>)[] = [];

before(async () => {
  const a = await infra();
  sink = await startSink();
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('receipts'), partitions: 2 },
    console: { apiTokens: [{ name: 'ops', token: TOKEN }], store: { type: 'sqlite', path: join(dir, 'index.db') } },
    sources: [{ name: 'shop' }],
    destinations: [{ name: 'ledger', url: sink.url, receipts: { secret: SECRET, slaSeconds: 3 } }],
    connections: [{ source: 'shop', destination: 'ledger' }],
  });
  const pipeline = await startPipeline(a, config);
  ({ ingressUrl, consoleUrl } = pipeline);
  closers.push(() => pipeline.close(), () => sink.close());
});

after(async () => {
  for (const c of closers) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const api = async (path: string) => (await fetch(`${consoleUrl}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as Promise<any>;

async function send(n: number): Promise<string> {
  const res = await fetch(`${ingressUrl}/webhooks/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ order: n }) });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
}

/** The receiving application's receipt, signed as its docs would: Standard Webhooks, its own message id. */
function receipt(body: unknown, o: { secret?: string; msgId?: string; at?: Date } = {}) {
  const payload = JSON.stringify(body);
  const msgId = o.msgId ?? `msg_${randomUUID()}`;
  const at = o.at ?? new Date();
  return {
    msgId,
    post: (destination = 'ledger') => fetch(`${ingressUrl}/receipts/${destination}`, {
      method: 'POST', body: payload,
      headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(o.secret ?? SECRET).sign(msgId, at, payload) },
    }),
  };
}

async function traceUntil(id: string, done: (d: any) => boolean, what: string): Promise<any> {
  let last: any;
  for (let i = 0; i < 100; i++) {
    last = await api(`/api/v1/events/${id}`);
    const d = last.deliveries?.find((x: any) => x.destination === 'ledger');
    if (d && done(d)) return d;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: last answer ${JSON.stringify(last)}`);
}

test('a signed receipt is captured (202) and the delivery reads applied; bad receipts are refused and recorded', { timeout: 120_000 }, async () => {
  const id = await send(1);
  await sink.waitFor(1);
  const webhookId = String(sink.received[0]!.headers['webhook-id']);
  assert.equal(webhookId, `${id}.ledger`);
  await traceUntil(id, (d) => d.state === 'delivered', 'delivered');

  const good = receipt({ webhookId, status: 'applied', detail: 'order 1 booked' });
  const res = await good.post();
  assert.equal(res.status, 202, await res.clone().text());
  assert.deepEqual(await res.json(), { receipt: good.msgId, eventId: id, status: 'applied' });
  const d = await traceUntil(id, (x) => x.receipt === 'applied', 'applied by receipt');
  assert.equal(d.receiptDetail, 'order 1 booked');
  assert.match(d.receiptAt, /^\d{4}-/);

  // Forged (another secret), stale (10 minutes old), replayed (the same message again), a
  // webhook-id never delivered, one for another destination, an unknown destination.
  const forged = await receipt({ webhookId, status: 'applied' }, { secret: `whsec_${randomBytes(24).toString('base64')}` }).post();
  assert.equal(forged.status, 401);
  const stale = await receipt({ webhookId, status: 'applied' }, { at: new Date(Date.now() - 600_000) }).post();
  assert.equal(stale.status, 401);
  const again = await fetch(`${ingressUrl}/receipts/ledger`, { method: 'POST' }); // unsigned
  assert.equal(again.status, 401);
  const replay = receipt({ webhookId, status: 'failed' }, { msgId: good.msgId });
  assert.equal((await replay.post()).status, 401, 'the same receipt id twice');
  const unknown = await receipt({ webhookId: `${randomUUID()}.ledger`, status: 'applied' }).post();
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as any).error.code, 'UNKNOWN_WEBHOOK_ID');
  assert.equal((await receipt({ webhookId: `${id}.other`, status: 'applied' }).post()).status, 404);
  assert.equal((await receipt({ webhookId, status: 'applied' }).post('nowhere')).status, 404);
  assert.equal((await receipt({ webhookId, status: 'maybe' }).post()).status, 400);

  // Nothing a refused receipt said reached the index.
  assert.equal((await traceUntil(id, () => true, 'trace')).receipt, 'applied');
  let refused: any[] = [];
  for (let i = 0; i < 50 && refused.length < 6; i++) {
    refused = ((await api('/api/v1/rejections?from=10m')).items as any[]).filter((r) => r.source === 'receipts:ledger');
    if (refused.length < 6) await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(refused.map((r: any) => r.reason).sort(), ['bad_signature', 'missing_signature', 'replayed', 'timestamp_out_of_tolerance', 'unknown_webhook_id', 'unknown_webhook_id'].sort());
  const metrics = await (await fetch(`${ingressUrl}/metrics`)).text();
  assert.match(metrics, /hookyard_receipts_total\{[^}]*destination="ledger"[^}]*status="applied"[^}]*\} 1$/m);
});

test('a failed receipt reads failed; no receipt past the SLA reads applied unknown, counted once; each opens its receipts issue', { timeout: 120_000 }, async () => {
  const failed = await send(2);
  const silent = await send(3);
  await sink.waitFor(3);
  const failedHookId = sink.received.map((r) => String(r.headers['webhook-id'])).find((h) => h.startsWith(failed))!;
  assert.equal((await receipt({ webhookId: failedHookId, status: 'failed', detail: 'ledger closed' }).post()).status, 202);
  const f = await traceUntil(failed, (d) => d.receipt === 'failed', 'failed by receipt');
  assert.equal(f.receiptDetail, 'ledger closed');
  // The SLA is 3 s: the silent one becomes applied unknown; the failed one does not.
  await traceUntil(silent, (d) => d.receipt === 'applied_unknown', 'applied unknown after the SLA');
  const ids = async (q: string) => ((await api(`/api/v1/events?${q}`)).items as any[]).map((i) => i.id);
  assert.deepEqual(await ids('receipt=sla_missed'), [silent]);
  assert.deepEqual(await ids('receipt=failed'), [failed]);
  const missed = async () => Number(/^hookyard_receipts_sla_missed_total\{[^}]*destination="ledger"[^}]*\} (\d+)/m.exec(await (await fetch(`${consoleUrl}/metrics`)).text())?.[1]);
  assert.equal(await missed(), 1);
  // Sweeps go on every 5 s: still one.
  await new Promise((r) => setTimeout(r, 6_000));
  assert.equal(await missed(), 1, 'an SLA miss is raised once per delivery');
  assert.equal((await api('/api/v1/events?receipt=maybe')).error.param, 'receipt');
  // "The destination says it failed to apply it" is a failure someone should see, like a
  // failed delivery: an issue of its own; the silent one counts toward the SLA issue.
  const issues = ((await api('/api/v1/issues?kind=receipts')).items as any[]).map((i) => [i.title, i.count, i.sample]).sort();
  assert.deepEqual(issues, [
    ['ledger: deliveries not confirmed within 3 s (applied unknown)', 1, `no receipt for ${silent}.ledger`],
    ['ledger: receipts say events failed to apply', 1, 'ledger closed'],
  ]);
});
