// Config versions against real Kafka: the log keeps every version with distinct numbers,
// also when two applies race; LiveConfig runs the newest at start, switches on a new one,
// and keeps what it runs when a version cannot be built here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ConcurrentApply, ConfigVersionLog, LiveConfig, configHash, createKafka, parseConfig, runningVersion, topicNames, type ConfigVersion } from '@hookyard/core';
import { infra, uniquePrefix } from '../../../support/infra.ts';
import { quietLog } from '../../../support/stack.ts';

const doc = (prefix: string, dest: string, extra = '') => `kafka: { topicPrefix: ${prefix}, partitions: 1 }
deliverer: { concurrencyPerPartition: 3 }
sources: [{ name: shop, verify: { type: bearer, token: "\${VERSIONS_TEST_TOKEN}" } }]
destinations: [{ name: ${dest}, url: "http://127.0.0.1:9/${dest}" }]
connections: [{ source: shop, destination: ${dest}${extra} }]
`;

test('a version runs its routing sections with the infrastructure of the process\'s own file; secrets resolve from the environment', () => {
  const file = parseConfig(doc('p-', 'a'), { VERSIONS_TEST_TOKEN: 'file-token' });
  const text = doc('other-', 'b').replace('concurrencyPerPartition: 3', 'concurrencyPerPartition: 9');
  const v: ConfigVersion = { version: 4, hash: configHash(text), appliedAt: 0, appliedBy: 't', message: '', rollbackOf: null, text };
  const r = runningVersion(file, v, { VERSIONS_TEST_TOKEN: 'version-token' });
  assert.equal(r.label, 'v4');
  assert.equal(r.config.kafka.topicPrefix, 'p-');
  assert.equal(r.config.deliverer.concurrencyPerPartition, 3);
  assert.deepEqual(r.config.destinations.map((d) => d.name), ['b']);
  assert.deepEqual(r.config.sources[0]!.verify, { type: 'bearer', token: 'version-token' });
  assert.throws(() => runningVersion(file, v, {}), /sources\[0\]\.verify\.token: environment variable VERSIONS_TEST_TOKEN is not set/);
});

test('the log numbers versions without gaps or repeats, also when applies race', async () => {
  const a = await infra();
  const prefix = uniquePrefix('versions');
  const file = parseConfig(doc(prefix, 'a'), { VERSIONS_TEST_TOKEN: 'x' });
  const kafka = createKafka(a.KAFKA_BROKERS.split(','), 'versions-test', quietLog);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const log = new ConfigVersionLog(kafka, file.kafka, topicNames(prefix).configVersions);
    assert.deepEqual(await log.list(admin), []);
    const first = await log.append(admin, { text: doc(prefix, 'a'), appliedBy: 'ada', message: 'first', rollbackOf: null });
    assert.equal(first.version, 1);
    const results = await Promise.allSettled([0, 1, 2].map((i) => log.append(admin, { text: doc(prefix, `d${i}`), appliedBy: 'race', message: String(i), rollbackOf: null })));
    const written = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<ConfigVersion>).value.version);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof ConcurrentApply, String(r.reason));
    assert.ok(written.length >= 1);
    const all = await log.list(admin);
    assert.deepEqual(all.map((v) => v.version), all.map((_, i) => i + 1), 'numbered 1…n');
    assert.equal(all.length, 1 + written.length, 'a fenced apply wrote nothing');
    assert.equal(all[0]!.appliedBy, 'ada');
    assert.equal(all[0]!.hash, configHash(doc(prefix, 'a')));
  } finally {
    await admin.disconnect();
  }
});

test('LiveConfig runs the newest version at start, follows new ones, refuses one it cannot build and keeps running', async () => {
  const a = await infra();
  const prefix = uniquePrefix('live');
  const env = { VERSIONS_TEST_TOKEN: 'x' };
  const file = parseConfig(doc(prefix, 'from-file'), env);
  const kafka = createKafka(a.KAFKA_BROKERS.split(','), 'live-test', quietLog);
  const admin = kafka.admin();
  await admin.connect();
  const topic = topicNames(prefix).configVersions;
  const log = new ConfigVersionLog(kafka, file.kafka, topic);
  const metrics = new Registry();
  const live = new LiveConfig<{ dest: string }>({
    kafka, file, log: quietLog, env, metrics, topic,
    build: (r) => {
      const dest = r.config.destinations[0]!.name;
      if (dest === 'refused') throw new Error('this service cannot run it');
      return { dest };
    },
  });
  try {
    await log.append(admin, { text: doc(prefix, 'one'), appliedBy: 't', message: '', rollbackOf: null });
    await log.append(admin, { text: doc(prefix, 'two'), appliedBy: 't', message: '', rollbackOf: null });
    const seen: string[] = [];
    live.onSwitch((r, rt) => seen.push(`${r.label}:${rt.dest}`));
    await live.start(admin);
    assert.equal(live.current().runtime.dest, 'two', 'the newest, not the file and not every version in between');
    assert.deepEqual(seen, ['v2:two']);

    await log.append(admin, { text: doc(prefix, 'three'), appliedBy: 't', message: '', rollbackOf: null });
    await until(() => live.current().runtime.dest === 'three');
    await log.append(admin, { text: doc(prefix, 'refused'), appliedBy: 't', message: '', rollbackOf: null });
    await log.append(admin, { text: doc(prefix, 'unset').replace('VERSIONS_TEST_TOKEN', 'NOT_SET_HERE'), appliedBy: 't', message: '', rollbackOf: null });
    await until(async () => /hookyard_config_rejected_total 2/.test(await metrics.metrics()));
    assert.equal(live.current().running.label, 'v3');
    assert.match(await metrics.metrics(), /hookyard_config_version_info\{version="v3",hash="[0-9a-f]{12}"\} 1/);
    await log.append(admin, { text: doc(prefix, 'four'), appliedBy: 't', message: '', rollbackOf: null });
    await until(() => live.current().runtime.dest === 'four');
    assert.deepEqual(seen, ['v2:two', 'v3:three', 'v6:four']);
  } finally {
    await live.close();
    await admin.disconnect();
  }
});

test('versioning.follow: false runs the file whatever was applied', async () => {
  const a = await infra();
  const prefix = uniquePrefix('nofollow');
  const env = { VERSIONS_TEST_TOKEN: 'x' };
  const file = parseConfig(`${doc(prefix, 'from-file')}versioning: { follow: false }\n`, env);
  const kafka = createKafka(a.KAFKA_BROKERS.split(','), 'nofollow-test', quietLog);
  const admin = kafka.admin();
  await admin.connect();
  const topic = topicNames(prefix).configVersions;
  try {
    await new ConfigVersionLog(kafka, file.kafka, topic).append(admin, { text: doc(prefix, 'applied'), appliedBy: 't', message: '', rollbackOf: null });
    const live = new LiveConfig<string>({ kafka, file, log: quietLog, env, topic, build: (r) => r.config.destinations[0]!.name });
    await live.start(admin);
    assert.equal(live.current().runtime, 'from-file');
    assert.match(live.current().running.label, /^file@/);
    await live.close();
  } finally {
    await admin.disconnect();
  }
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
