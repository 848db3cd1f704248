// kafka.durability: what a 202 promises. The configuration's defaults and refusals, and
// the settings read back from a real broker (describeConfigs) in each mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, createKafka, durabilityPromise, ensureTopics, internalDurabilityWarning, parseConfig } from '@hookyard/core';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { quietLog } from '../../support/stack.ts';

const kafkaOf = (yaml: string) => parseConfig(`${yaml}\nsources: [{ name: s }]`, {}).kafka;

test('fsync on one copy, replicated from three replicas with min ISR 2; what a 202 means is said in words', () => {
  const one = kafkaOf('kafka: {}');
  assert.deepEqual([one.durability, one.replicationFactor, one.minInsyncReplicas], ['fsync', 1, 1]);
  assert.equal(durabilityPromise(one), 'accepted = on disk on 1 broker (fsync before each acknowledgement)');
  const three = kafkaOf('kafka: { replicationFactor: 3 }');
  assert.deepEqual([three.durability, three.minInsyncReplicas], ['replicated', 2]);
  assert.equal(durabilityPromise(three), 'accepted = on at least 2 brokers of 3 (replicated; each writes to disk when its OS does)');
  const two = kafkaOf('kafka: { replicationFactor: 2 }');
  assert.deepEqual([two.durability, two.minInsyncReplicas], ['fsync', 1], 'two replicas, one in sync: a single copy may be all there is');
  const both = kafkaOf('kafka: { replicationFactor: 3, durability: fsync }');
  assert.equal(durabilityPromise(both), 'accepted = on disk on at least 2 brokers of 3 (fsync before each acknowledgement)');
  const risky = kafkaOf('kafka: { durability: replicated, acceptPowerLossRisk: true }');
  assert.match(durabilityPromise(risky), /in the memory of 1 broker .*power cut/);
});

test('replicated on one in-sync copy is refused unless the risk is accepted; min ISR above the replicas is refused', () => {
  for (const yaml of ['kafka: { durability: replicated }', 'kafka: { durability: replicated, replicationFactor: 3, minInsyncReplicas: 1 }']) {
    assert.throws(() => kafkaOf(yaml), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 1);
      assert.match(err.problems[0]!, /^kafka\.durability: "replicated" with .* a power cut loses events that were answered 202\. Use fsync, or replicationFactor 3 with minInsyncReplicas 2, or set acceptPowerLossRisk: true$/);
      return true;
    }, yaml);
  }
  assert.throws(() => kafkaOf('kafka: { replicationFactor: 2, minInsyncReplicas: 3 }'), /kafka\.minInsyncReplicas: must be at most replicationFactor \(2\)/);
});

test('topics get flush.messages=1 under fsync and lose the override under replicated, keeping their other settings', { timeout: 60_000 }, async () => {
  const a = await infra();
  const kafka = createKafka(a.KAFKA_BROKERS.split(','), 'durability-test', quietLog);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topic = `${uniquePrefix('durability')}t`;
    const overrides = async () => {
      const d = await admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false });
      return Object.fromEntries(d.resources[0]!.configEntries.filter((e) => e.configSource === 1).map((e) => [e.configName, e.configValue]));
    };
    await ensureTopics(admin, kafkaOf('kafka: { partitions: 1 }'), [topic], [{ name: 'cleanup.policy', value: 'compact' }]);
    let o = await overrides();
    assert.equal(o['flush.messages'], '1');
    assert.equal(o['min.insync.replicas'], '1');
    assert.equal(o['cleanup.policy'], 'compact');
    // The same topic, started again with replicated (one broker here: the risk accepted).
    await ensureTopics(admin, kafkaOf('kafka: { partitions: 1, durability: replicated, acceptPowerLossRisk: true }'), [topic]);
    o = await overrides();
    assert.equal(o['flush.messages'], undefined, 'no per-message flush of its own');
    assert.equal(o['cleanup.policy'], 'compact', 'other overrides kept');
    assert.equal(o['max.message.bytes'], String(11 * 1024 * 1024));
    // And back: an existing topic (created before this setting, say) gets it.
    await ensureTopics(admin, kafkaOf('kafka: { partitions: 1 }'), [topic]);
    assert.equal((await overrides())['flush.messages'], '1');
  } finally {
    await admin.disconnect();
  }
});

test('a broker that does not flush Kafka\'s own state per message is named under fsync', { timeout: 60_000 }, async () => {
  const a = await infra();
  const kafka = createKafka(a.KAFKA_BROKERS.split(','), 'durability-test', quietLog);
  const admin = kafka.admin();
  await admin.connect();
  const { brokers } = await admin.describeCluster();
  const node = String(brokers[0]!.nodeId);
  try {
    const fsync = kafkaOf('kafka: {}');
    assert.equal(await internalDurabilityWarning(admin, fsync), null, 'hookyard\'s own stack flushes every write');
    // The same broker with the per-message flush lifted (a per-broker dynamic setting, removed below).
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 4, name: node, configEntries: [{ name: 'log.flush.interval.messages', value: '9223372036854775807' }] }] });
    const deadline = Date.now() + 10_000;
    let warning: string | null = null;
    while (warning === null && Date.now() < deadline) {
      warning = await internalDurabilityWarning(admin, fsync);
      if (warning === null) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(warning ?? '', new RegExp(`not flushed per message \\(.*broker ${node}.*\\): set log\\.flush\\.interval\\.messages=1 on every broker`));
    assert.equal(await internalDurabilityWarning(admin, kafkaOf('kafka: { durability: replicated, acceptPowerLossRisk: true }')), null, 'replicated does not ask for it');
  } finally {
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 4, name: node, configEntries: [] }] });
    await admin.disconnect();
  }
});
