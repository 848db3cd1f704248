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
  assert.deepEqual(problems(''), ['sources: required']);
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

test('a missing field of each verify type says it is required, and for which type', () => {
  const needs: Record<string, string[]> = {
    none: [], stripe: ['secret'], github: ['secret'], shopify: ['secret'], slack: ['secret'], twilio: ['authToken'],
    'standard-webhooks': ['secret'], hmac: ['secret', 'header'], basic: ['username', 'password'], bearer: ['token'], 'api-key': ['key'],
  };
  for (const [type, fields] of Object.entries(needs)) {
    const yaml = `sources: [{ name: s, verify: { type: ${type} } }]`;
    if (fields.length === 0) {
      parseConfig(yaml, {});
      continue;
    }
    assert.deepEqual(problems(yaml), fields.map((f) => `sources[0].verify.${f}: required for type ${type}`), type);
  }
  assert.deepEqual(problems('sources: [{ name: s, verify: { secret: x } }]'),
    ['sources[0].verify.type: required: one of none, stripe, github, shopify, slack, twilio, standard-webhooks, hmac, basic, bearer, api-key']);
  assert.deepEqual(problems('sources: [{ name: s }]\ndestinations: [{ name: d, url: "http://d/", auth: { type: basic, username: u } }]'),
    ['destinations[0].auth.password: required for type basic']);
});

test('a union names what it expected, or what is wrong inside a value of the right shape', () => {
  assert.deepEqual(problems('sources: [{ name: s, verify: { type: stripe, secret: 5 } }]'),
    ['sources[0].verify.secret: must be a string or a list, not the number 5']);
  assert.deepEqual(problems('sources: [{ name: s, verify: { type: stripe, secret: [ok, 7] } }]'),
    ['sources[0].verify.secret[1]: must be a string, not the number 7']);
  assert.deepEqual(problems('sources: [{ name: s, verify: { type: stripe, secret: [] } }]'),
    ['sources[0].verify.secret: must list at least 1']);
  assert.deepEqual(problems('sources: [{ name: s }]\ndestinations: [{ name: d, url: "http://d/", retry: { schedule: sometimes } }]'),
    ['destinations[0].retry.schedule: must be "standard", "exponential" or a list, not the string "sometimes"']);
  assert.deepEqual(problems('sources: [{ name: s, dedup: { window: 5x } }]'),
    ['sources[0].dedup.window: must be a duration such as 500ms, 30s, 10m, 24h, 7d']);
  assert.deepEqual(problems('sources: [{ name: s }]\ndestinations: [{ name: d, url: "http://d/", ordering: random }]'),
    ['destinations[0].ordering: must be "unordered" or "per-key", not the string "random"']);
});

test('no problem anywhere is a bare "Invalid input": every field of a full config, given wrong values', () => {
  const base = {
    kafka: { topicPrefix: 'p', partitions: 3, replicationFactor: 1, produceTimeoutMs: 5000, sessionTimeoutMs: 30000 },
    ingress: { trustedProxies: ['10.0.0.1'], rejectionsPerSecond: 50 },
    router: { transformTimeoutMs: 200 },
    deliverer: { concurrencyPerPartition: 16, dedupWindowSeconds: 60 },
    sources: [{
      name: 's', verify: { type: 'hmac', secret: ['a', 'b'], header: 'x-sig', algorithm: 'sha256', encoding: 'hex', timestampHeader: 'x-ts', toleranceSeconds: 300 },
      allowedIps: ['10.0.0.0/8'], publicUrl: 'https://hooks.example.com', orderingKey: 'body.customer', dedup: { window: '24h', includeFields: ['body.id'] },
      eventType: 'body.type', allowedEventTypes: ['invoice.*'], maxBodyBytes: 1000,
    }],
    destinations: [{
      name: 'd', url: 'http://d/', auth: { type: 'bearer', token: 't' }, signingSecret: 'whsec_x', timeoutMs: 1000,
      retry: { maxAttempts: 3, schedule: [0, 100], initialDelayMs: 10, maxDelayMs: 100 }, rateLimit: { perSecond: 5, maxConcurrency: 2 },
      ordering: 'per-key', paused: false, breaker: { enabled: true, consecutiveFailures: 5, cooldownMs: 1000 },
    }],
    connections: [{ source: 's', destination: 'd', filter: { body: { type: 'x' } }, transform: 'body' }],
  };
  parseConfig(JSON.stringify(base), {});
  const leaves: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    if (v !== null && typeof v === 'object' && !(at.at(-1) === 'filter')) {
      for (const [k, x] of Object.entries(v)) walk(x, [...at, Array.isArray(v) ? Number(k) : k]);
    } else leaves.push(at);
  };
  walk(base, []);
  let checked = 0;
  for (const at of leaves) {
    for (const bad of [null, -1, 'zz z', [], {}, [7], { x: 1 }, '']) {
      const doc = structuredClone(base) as Record<string, unknown>;
      let parent = doc as Record<string | number, unknown>;
      for (const k of at.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
      parent[at.at(-1)!] = bad;
      let list: string[];
      try {
        parseConfig(JSON.stringify(doc), {});
        continue;
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        list = [...err.problems];
      }
      for (const p of list) {
        checked++;
        assert.match(p, /^[\w.[\]-]+: \S/, p);
        assert.doesNotMatch(p, /Invalid input|Invalid option|expected .*, received/, `${JSON.stringify(at)} = ${JSON.stringify(bad)}: ${p}`);
      }
    }
  }
  assert.ok(checked > 200, `${checked} problems checked`);
});
