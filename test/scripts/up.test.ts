// The first README command as a new user runs it: ./hookyard up on a fresh broker of its
// own, the curl it prints, the event at the demo sink — and a screen without one
// error-level line (kafkajs's start-up chatter stays below warn), then a clean Ctrl-C.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { repoRoot } from '../support/stack.ts';

const env: NodeJS.ProcessEnv = {
  ...process.env,
  HOOKYARD_KAFKA_PORT: '23092', HOOKYARD_REDIS_PORT: '23379', HOOKYARD_REGISTRY_PORT: '23081',
  HOOKYARD_STACK_DIR: mkdtempSync(join(tmpdir(), 'hookyard-up-test-')),
  PORT: '23080', SINK_PORT: '23099', ROUTER_METRICS_PORT: '23091', DELIVERER_METRICS_PORT: '23095', CONSOLE_PORT: '23097',
};
for (const k of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_URL', 'HOOKYARD_CONFIG', 'LOG_FORMAT', 'LOG_LEVEL', 'SINK_URL', 'HOOKYARD_API_TOKEN', 'HOOKYARD_CONSOLE_URL', 'HOOKYARD_INDEX_PATH', 'HOOKYARD_ADMIN_PASSWORD_HASH', 'HOOKYARD_SESSION_KEY']) delete env[k];

after(() => {
  spawnSync('bash', [join(repoRoot, 'hookyard'), 'down', '--wipe'], { env, stdio: 'ignore' });
});

test('./hookyard up on a fresh broker: the printed curl reaches the demo sink, and nothing is logged at error', { timeout: 300_000 }, async () => {
  const child = spawn('bash', [join(repoRoot, 'hookyard'), 'up'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const onLine = (l: string) => {
    lines.push(l);
    for (const w of waiters.splice(0)) if (w.match(l)) w.resolve(l); else waiters.push(w);
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitLine = (match: (l: string) => boolean, ms: number, what: string) => new Promise<string>((resolve, reject) => {
    const found = lines.find(match);
    if (found) return resolve(found);
    const t = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; output:\n${lines.join('\n')}`)), ms);
    waiters.push({ match, resolve: (l) => { clearTimeout(t); resolve(l); } });
    void exited.then((code) => { clearTimeout(t); reject(new Error(`./hookyard up exited (${code}) before ${what}; output:\n${lines.join('\n')}`)); });
  });

  try {
    await waitLine((l) => l.startsWith('hookyard is up'), 240_000, '"hookyard is up"');
    const curl = (await waitLine((l) => l.trimStart().startsWith('curl '), 5_000, 'curl line')).trim();
    const { stdout } = await promisify(execFile)('sh', ['-c', curl]);
    assert.match(stdout, /^HTTP\/1\.1 202/, stdout);
    const { id } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { id: string };
    const delivered = await waitLine((l) => l.startsWith('[sink]') && l.includes(`webhook-id=${id}.`), 60_000, 'the event at the demo sink');
    assert.match(delivered, /"hello":"world"/);
    // The event history, through the CLI as the printed hint says, with the stack's token.
    let found = '';
    const want = new RegExp(`"id":"${id}".*"destination":"demo-sink","state":"delivered"`);
    for (let i = 0; i < 40 && !want.test(found); i++) {
      const r = await promisify(execFile)('bash', [join(repoRoot, 'hookyard'), 'events', 'search', '--from', '10m', '--json'], { env }).catch((e: { stdout: string; stderr: string }) => e);
      found = `${r.stdout}${r.stderr}`;
      if (!want.test(found)) await new Promise((x) => setTimeout(x, 500));
    }
    assert.match(found, want);
    // The web console with the login it printed (generated, not a default): the login form's
    // CSRF token and session cookie, then the events page.
    const login = /console\s+(http:\S+)\s+log in as admin, password (\S+)/.exec(lines.join('\n'));
    assert.ok(login, 'the console URL and a first login are printed');
    const [, consoleUrl, password] = login;
    const form = await fetch(`${consoleUrl}login`);
    const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const signedIn = await fetch(`${consoleUrl}login`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, name: 'admin', password: password!, next: '/events' }) });
    assert.equal(signedIn.status, 303);
    const session = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const events = await fetch(`${consoleUrl}events?q=world`, { headers: { cookie: session } });
    assert.equal(events.status, 200);
    assert.ok((await events.text()).includes(id), 'the event is on the events page');
    // Chatter came after the first event too (a deliverer's first transaction, a rebalance).
    await new Promise((r) => setTimeout(r, 5_000));
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, 'Ctrl-C stops the services cleanly');

  const logged = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; name: string; msg: string });
  assert.ok(logged.some((e) => e.name === 'deliverer' && e.msg === 'deliverer started'), 'service lines come through, JSON when not on a terminal');
  const loud = logged.filter((e) => e.level >= 50);
  assert.deepEqual(loud.map((e) => `${e.name}: ${e.msg}`), [], 'no error-level line on a healthy first run');
  assert.deepEqual(lines.filter((l) => /^\s+at |^\[(ingress|router|deliverer|console)\] /.test(l)), [], 'no stack trace and no stray output from a service');
});
