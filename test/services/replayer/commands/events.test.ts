// hookyard events list | show against the whole pipeline: what arrived, what was refused
// and why, and every delivery attempt of one event.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDeliverer } from '../../../../services/deliverer/src/app.ts';
import { buildIngress } from '../../../../services/ingress/src/app.ts';
import { buildRouter } from '../../../../services/router/src/app.ts';
import { cli } from '../../../support/cli.ts';
import { infra, uniquePrefix } from '../../../support/infra.ts';
import { startSink } from '../../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../../support/stack.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

test('events list, list --rejected and show', { timeout: 120_000 }, async () => {
  const a = await infra();
  const sink = await startSink();
  cleanup.push(() => sink.close());
  sink.respond = (n) => (n === 0 ? 503 : 200); // the first attempt fails
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('events'), partitions: 2 },
    sources: [{ name: 'open' }, { name: 'locked', verify: { type: 'bearer', token: 't0ken' } }],
    destinations: [{ name: 'd', url: sink.url, retry: { schedule: [0, 100] } }],
    connections: [{ source: 'open', destination: 'd' }],
  });
  const t0 = Date.now();
  const ingress = buildIngress({ config, env: runtimeFor(a), log: quietLog });
  await ingress.start();
  cleanup.push(() => ingress.close());
  for (const svc of [buildRouter({ config, env: runtimeFor(a), log: quietLog }), buildDeliverer({ config, env: runtimeFor(a), log: quietLog })]) {
    await svc.start();
    cleanup.push(() => svc.close());
  }
  const post = (source: string, body: unknown, headers: Record<string, string> = {}) =>
    ingress.app.inject({ method: 'POST', url: `/webhooks/${source}`, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
  const first = await post('open', { hello: 'world' });
  assert.equal(first.statusCode, 202);
  const id = first.json().id as string;
  assert.equal((await post('open', { n: 2 })).statusCode, 202);
  assert.equal((await post('locked', { n: 3 }, { authorization: 'Bearer t0ken' })).statusCode, 202);
  assert.equal((await post('locked', { n: 4 }, { authorization: 'Bearer wrong' })).statusCode, 401);
  await sink.waitFor(2, 30_000);

  const from = new Date(t0 - 1000).toISOString();
  const list = await cli(a, config, ['events', 'list', '--from', from, '--json']);
  assert.equal(list.code, 0, list.notes.join('\n'));
  assert.equal(list.lines.length, 3);
  const only = await cli(a, config, ['events', 'list', '--from', from, '--source', 'locked']);
  assert.equal(only.lines.length, 1);
  assert.match(only.lines[0]!, /locked {2}POST \/webhooks\/locked/);

  const rejected = await cli(a, config, ['events', 'list', '--from', from, '--rejected', '--json']);
  assert.equal(rejected.code, 0, rejected.notes.join('\n'));
  assert.equal(rejected.lines.length, 1);
  const r = JSON.parse(rejected.lines[0]!);
  assert.deepEqual([r.source, r.status, r.code], ['locked', 401, 'UNAUTHORIZED']);
  assert.ok(!JSON.stringify(r).includes('wrong'), 'the presented credential is not in the record');

  // The second attempt's record may land a moment after the sink's 2xx.
  let shown = await cli(a, config, ['events', 'show', id, '--json']);
  for (let i = 0; i < 20 && JSON.parse(shown.lines[0] ?? '{"attempts":[]}').attempts.length < 2; i++) {
    await new Promise((res) => setTimeout(res, 250));
    shown = await cli(a, config, ['events', 'show', id, '--json']);
  }
  assert.equal(shown.code, 0, shown.notes.join('\n'));
  const s = JSON.parse(shown.lines[0]!);
  assert.equal(s.event.id, id);
  assert.deepEqual(JSON.parse(s.event.body), { hello: 'world' });
  assert.deepEqual(s.attempts.map((x: { attempt: number; status: number; outcome: string }) => [x.attempt, x.status, x.outcome]), [[1, 503, 'retry'], [2, 200, 'success']]);
  const text = await cli(a, config, ['events', 'show', id]);
  assert.match(text.lines.join('\n'), /delivery attempts:\n {2}d {2}#1 .* retry {2}status 503/);

  const missing = await cli(a, config, ['events', 'show', '01937d3e-5a1c-7c2e-9f00-3b2a1c0d4e5f']);
  assert.equal(missing.code, 1);
  assert.match(missing.notes.join('\n'), /not found in raw-events/);
  const notAnId = await cli(a, config, ['events', 'show', 'evt_123']);
  assert.equal(notAnId.code, 2);
});
