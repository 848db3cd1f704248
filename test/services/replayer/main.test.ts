// The hookyard command as a user runs it: help, exit codes, nothing touched on bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const main = join(import.meta.dirname, '../../../services/replayer/src/main.ts');
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], {
  encoding: 'utf8', env: { ...process.env, HOOKYARD_CONFIG: join(import.meta.dirname, '../../../examples/hookyard.yaml'), KAFKA_BROKERS: '127.0.0.1:1' },
});

test('--help on the command and on every subcommand, with examples', () => {
  const top = run('--help');
  assert.equal(top.status, 0);
  assert.match(top.stdout, /Commands:\n {2}replay/);
  for (const cmd of ['replay', 'rewind', 'dlq', 'events']) {
    const r = run(cmd, '--help');
    assert.equal(r.status, 0, cmd);
    assert.match(r.stdout, new RegExp(`Usage: hookyard ${cmd}`));
    assert.match(r.stdout, /Examples:/);
  }
});

test('no command, an unknown command or wrong input: exit 2 with one line, before any connection', () => {
  assert.equal(run().status, 2);
  const unknown = run('frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  // KAFKA_BROKERS points nowhere: these must fail on input alone, quickly.
  const t0 = Date.now();
  const bad = run('replay', '--from', '2h', '--to', '3h');
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.ok(Date.now() - t0 < 5000);
});
