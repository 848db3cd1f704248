import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '@hookyard/core';
import { repoRoot, writeConfigFile } from '../../../support/stack.ts';

function problems(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(yaml, env, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.problems];
  }
  assert.fail('expected a ConfigError');
}

test('the example config and the SPEC example parse, with defaults filled in', () => {
  const cfg = parseConfig(readFileSync(join(repoRoot, 'examples/hookyard.yaml'), 'utf8'), { SINK_URL: 'http://127.0.0.1:9999/hook' }, 'examples/hookyard.yaml');
  assert.ok(cfg.sources.length > 0);
  const spec = parseConfig(`
sources:
  - name: stripe
    verify: { type: stripe, secret: "\${STRIPE_WEBHOOK_SECRET}" }
    orderingKey: body.data.object.customer
    dedupKey: body.id
    eventType: body.type
    allowedEventTypes: ["invoice.*", "customer.subscription.*"]
destinations:
  - name: billing
    url: http://billing.internal:3000/hooks/stripe
    auth: { type: bearer, token: "\${BILLING_TOKEN}" }
    signingSecret: "\${BILLING_WHSEC}"
    timeoutMs: 10000
    retry: { maxAttempts: 8, schedule: exponential, initialDelayMs: 5000, maxDelayMs: 36000000 }
    rateLimit: { perSecond: 50 }
    ordering: unordered
connections:
  - source: stripe
    destination: billing
    filter: { body: { type: { $startsWith: "invoice." } } }
    transform: '{ "type": body.type, "customer": body.data.object.customer }'
`, { STRIPE_WEBHOOK_SECRET: 'whsec_x', BILLING_TOKEN: 't', BILLING_WHSEC: 'whsec_y' });
  assert.equal(spec.sources[0]?.verify.type, 'stripe');
  assert.equal(spec.destinations[0]?.auth?.type === 'bearer' && spec.destinations[0].auth.token, 't');
  assert.equal(spec.sources[0]?.maxBodyBytes, 1024 * 1024);
  assert.equal(spec.kafka.partitions, 6);
});

test('${ENV} and ${ENV:-default} are replaced; a missing variable is reported by path', () => {
  const cfg = parseConfig('sources: [{ name: a, verify: { type: bearer, token: "${TOK}" } }]\ndestinations: [{ name: d, url: "${URL:-http://x:1/}" }]', { TOK: 'abc' });
  assert.equal(cfg.sources[0]?.verify.type === 'bearer' && cfg.sources[0].verify.token, 'abc');
  assert.equal(cfg.destinations[0]?.url, 'http://x:1/');
  assert.deepEqual(problems('sources: [{ name: a, verify: { type: bearer, token: "${NOPE}" } }]'), [
    'sources[0].verify.token: environment variable NOPE is not set',
    'sources[0].verify.token: must not be empty',
  ]);
});

test('every problem is listed by its path', () => {
  const p = problems(`
kafka: { partitions: 0 }
sources:
  - name: Bad Name
  - name: ok
    verify: { type: martian }
  - name: ok
destinations:
  - name: a
    url: http://a:1/
  - name: b
    url: ftp://nope
    colour: blue
connections:
  - { source: ok, destination: c }
`);
  assert.equal(p.length, 7, p.join('\n'));
  assert.ok(p.includes('sources[2].name: duplicate name "ok"'));
  assert.ok(p.includes('destinations[1].url: must be an http(s) URL'));
  assert.ok(p.includes('connections[0].destination: unknown destination "c"'));
  assert.ok(p.includes('sources[0].name: must be lowercase letters, digits, - or _ (max 63)'));
  assert.ok(p.some((x) => x.startsWith('sources[1].verify')));
  assert.ok(p.includes('destinations[1]: unknown key "colour"'));
  assert.ok(p.some((x) => x.startsWith('kafka.partitions:')));
});

test('YAML syntax errors and empty files are config errors, not crashes', () => {
  assert.match(problems('sources: [ {')[0] ?? '', /^YAML: /);
  assert.deepEqual(problems(''), ['sources: expected array, received undefined']);
});

test('a service started with a bad config exits 2 and lists problems, without a stack trace', () => {
  const file = writeConfigFile({ sources: [{ name: 'a' }], destinations: [{ name: 'd', url: 'not a url' }] });
  for (const service of ['ingress', 'router', 'deliverer']) {
    const r = spawnSync(process.execPath, [join(repoRoot, 'services', service, 'src', 'main.ts')], { env: { ...process.env, HOOKYARD_CONFIG: file }, encoding: 'utf8' });
    assert.equal(r.status, 2, `${service}: ${r.stderr}`);
    assert.match(r.stderr, /destinations\[0\]\.url: must be an http\(s\) URL/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const missing = spawnSync(process.execPath, [join(repoRoot, 'services/ingress/src/main.ts')], { env: { ...process.env, HOOKYARD_CONFIG: '/nonexistent.yaml' }, encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read file: ENOENT/);
});
