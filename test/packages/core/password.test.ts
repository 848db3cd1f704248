import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, parseConfig, verifyPassword } from '../../../packages/core/src/index.ts';
import { runCli } from '../../../services/replayer/src/cli.ts';

test('a password hash verifies the password and nothing else', async () => {
  const h = await hashPassword('correct horse battery staple');
  assert.match(h, /^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  assert.notEqual(h, await hashPassword('correct horse battery staple'), 'salted');
  assert.equal(await verifyPassword('correct horse battery staple', h), true);
  assert.equal(await verifyPassword('correct horse battery stapler', h), false);
  assert.equal(await verifyPassword('correct horse battery staple', undefined), false, 'unknown user');
  assert.equal(await verifyPassword('x', 'not a hash'), false);
  assert.equal(await verifyPassword('x', h.replace('ln=17', 'ln=40')), false, 'absurd parameters refused, not derived');
});

test('hookyard password-hash: stdin in, a hash the config accepts out; never a password in the config', async () => {
  const lines: string[] = [];
  const notes: string[] = [];
  const out = { line: (t: string) => lines.push(t), note: (t: string) => notes.push(t) };
  assert.equal(await runCli(['password-hash'], { out, stdin: async () => 'a long enough passphrase\n' }), 0);
  assert.equal(await verifyPassword('a long enough passphrase', lines[0]), true);
  assert.equal(await runCli(['password-hash'], { out, stdin: async () => 'short\n' }), 2);
  assert.equal(await runCli(['password-hash', 'on-the-command-line'], { out }), 2);
  assert.match(notes.join('\n'), /stdin, never as an argument/);
  const yaml = (hash: string) => `sources: [{ name: s }]\nconsole:\n  users:\n    - { name: ada, role: operator, passwordHash: '${hash}' }\n`;
  assert.equal(parseConfig(yaml(lines[0]!), {}).console.users[0]!.name, 'ada');
  assert.throws(() => parseConfig(yaml('hunter2'), {}), /console\.users\[0\]\.passwordHash: .*never a password/);
});
