// No alert is lost when the console (the alerts' sender) dies: twenty distinct failures (HTTP
// 500–519 from one destination) open twenty issues while the console process is killed with
// SIGKILL three times and started again; every issue reaches Slack, each exactly once.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildDeliverer } from '../../../services/deliverer/src/app.ts';
import { buildIngress } from '../../../services/ingress/src/app.ts';
import { buildRouter } from '../../../services/router/src/app.ts';
import type { StackAddresses } from '../../../scripts/infra/local-stack.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startSink, type Sink } from '../../support/sink.ts';
import { quietLog, runtimeFor, spawnService, testConfig, writeConfigFile } from '../../support/stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'hookyard-alerts-kill-'));
let a: StackAddresses;
let billing: Sink;
let slack: Sink;
let ingressUrl = '';
let configFile = '';
let consoleProc: ChildProcess | undefined;
const closers: (() => Promise<unknown>)[] = [];

before(async () => {
  a = await infra();
  billing = await startSink();
  // Each order fails with its own status: 500 + order % 20.
  billing.respond = (_n, r) => 500 + ((JSON.parse(r.body.toString()) as { order: number }).order % 20);
  slack = await startSink();
  const raw = {
    // A killed console's group membership lapses after the session timeout: short here.
    kafka: { topicPrefix: uniquePrefix('alerts-kill'), partitions: 2, sessionTimeoutMs: 6000 },
    console: { apiTokens: [{ name: 'ops', token: 'alerts-kill-token-0123456789' }], store: { type: 'sqlite', path: join(dir, 'index.db') } },
    sources: [{ name: 'shop' }],
    destinations: [{ name: 'billing', url: billing.url, retry: { schedule: [0], maxAttempts: 1 } }],
    connections: [{ source: 'shop', destination: 'billing' }],
    alerts: { channels: [{ name: 'oncall', type: 'slack', url: slack.url }], rules: [{ on: ['issue.opened'], kinds: ['delivery'], channels: ['oncall'] }] },
  };
  configFile = writeConfigFile(raw);
  const config = testConfig(raw);
  const env = runtimeFor(a);
  const ingress = buildIngress({ config, env, log: quietLog });
  const router = buildRouter({ config, env, log: quietLog });
  const deliverer = buildDeliverer({ config, env, log: quietLog });
  closers.push(() => ingress.close(), () => router.close(), () => deliverer.close(), () => billing.close(), () => slack.close());
  ingressUrl = `http://${(await ingress.start({ port: 0, host: '127.0.0.1' })).replace(/^https?:\/\//, '')}`;
  await router.start();
  await deliverer.start();
});

after(async () => {
  consoleProc?.kill('SIGKILL');
  for (const c of closers) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const startConsole = async () => {
  consoleProc = await spawnService('console', configFile, a, 'console indexing', { PORT: '0' });
};

test('SIGKILL of the console while issues open: every issue alerted, once', { timeout: 240_000 }, async () => {
  await startConsole();
  let sent = 0;
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${ingressUrl}/webhooks/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ order: sent++ }) });
      assert.equal(res.status, 202);
    }
  };
  for (let round = 0; round < 3; round++) {
    await send(7);
    // Killed somewhere between indexing, recording the issue and publishing its alert.
    await new Promise((r) => setTimeout(r, 300 + round * 400));
    consoleProc!.kill('SIGKILL');
    await new Promise((r) => consoleProc!.once('exit', r));
    await startConsole();
  }
  assert.ok(sent >= 20);
  const titles = () => slack.received.map((r) => (JSON.parse(r.body.toString()) as { text: string }).text);
  const deadline = Date.now() + 120_000;
  while (new Set(titles()).size < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  // A moment for any duplicate to show up.
  await new Promise((r) => setTimeout(r, 2_000));
  const expected = Array.from({ length: 20 }, (_, i) => `New issue: billing: HTTP ${500 + i}`).sort();
  assert.deepEqual([...new Set(titles())].sort(), expected, 'every issue alerted');
  assert.equal(titles().length, 20, `each once (got ${titles().length}: ${titles().join(' | ')})`);
});
