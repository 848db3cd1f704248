// Offsets are committed only after a 2xx: a deliverer killed -9 before the sink got the
// event leaves it uncommitted, and the next deliverer delivers it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIngress } from '../../../services/ingress/src/app.ts';
import { buildRouter } from '../../../services/router/src/app.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startSink } from '../../support/sink.ts';
import { quietLog, runtimeFor, spawnService, testConfig, whenReady, writeConfigFile } from '../../support/stack.ts';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

test('kill -9 of the deliverer before a 2xx: the event still arrives after restart', { timeout: 120_000 }, async () => {
  const a = await infra();
  const sink = await startSink();
  cleanup.push(() => sink.close());
  let attempts = 0;
  sink.respond = () => { attempts++; return 503; }; // the sink receives nothing successfully
  const raw = {
    kafka: { topicPrefix: uniquePrefix('crash'), partitions: 1, sessionTimeoutMs: 6000 },
    sources: [{ name: 'src' }],
    destinations: [{ name: 'dst', url: sink.url }],
    connections: [{ source: 'src', destination: 'dst' }],
  };
  const config = testConfig(raw);
  const file = writeConfigFile(raw);
  const env = runtimeFor(a);
  const ingress = buildIngress({ config, env, log: quietLog });
  const router = buildRouter({ config, env, log: quietLog });
  const url = await whenReady(await ingress.start({ port: 0, host: '127.0.0.1' }));
  await router.start();
  cleanup.push(() => ingress.close(), () => router.close());

  const first = await spawnService('deliverer', file, a, 'deliverer consuming');
  cleanup.push(() => first.kill('SIGKILL'));
  const res = await fetch(`${url}/webhooks/src`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
  assert.equal(res.status, 202);
  const { id } = (await res.json()) as { id: string };
  const deadline = Date.now() + 60_000;
  while (attempts === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(attempts > 0, 'the first deliverer tried');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  assert.equal(sink.received.length, 0);

  sink.respond = 200;
  const second = await spawnService('deliverer', file, a, 'deliverer consuming');
  cleanup.push(() => second.kill('SIGKILL'));
  const [got] = await sink.waitFor(1, 60_000);
  assert.equal(got?.headers['x-hookyard-event-id'], id);
  assert.equal(got?.body.toString(), '{"n":1}');
});
