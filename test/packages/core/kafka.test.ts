// ensureTopics against a real broker: replicas starting together, and refusals that
// cannot heal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopics } from '@hookyard/core';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { testConfig } from '../../support/stack.ts';

test('ensureTopics: six replicas creating the same topics at once all come up with leaders', async () => {
  const a = await infra();
  const config = testConfig({ kafka: { topicPrefix: uniquePrefix('ensure'), partitions: 3 }, sources: [{ name: 's' }] });
  const topics = Array.from({ length: 8 }, (_, i) => `${config.kafka.topicPrefix}t${i}`);
  const admins = Array.from({ length: 6 }, () => new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin());
  await Promise.all(admins.map((ad) => ad.connect()));
  try {
    await Promise.all(admins.map((ad) => ensureTopics(ad, config.kafka, topics)));
    const md = await admins[0]!.fetchTopicMetadata({ topics });
    assert.equal(md.topics.length, topics.length);
    for (const t of md.topics) {
      assert.equal(t.partitions.length, 3, t.name);
      assert.ok(t.partitions.every((p) => p.leader >= 0), `${t.name} has leaders`);
    }
  } finally {
    await Promise.all(admins.map((ad) => ad.disconnect()));
  }
});

test('ensureTopics: a replication factor the cluster cannot give fails at once with Kafka’s reason', async () => {
  const a = await infra();
  const config = testConfig({ kafka: { topicPrefix: uniquePrefix('ensure-rf'), partitions: 1, replicationFactor: 3 }, sources: [{ name: 's' }] });
  const admin = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const t0 = Date.now();
    await assert.rejects(ensureTopics(admin, config.kafka, [`${config.kafka.topicPrefix}x`]), /replication/i);
    assert.ok(Date.now() - t0 < 10_000, 'not retried until the deadline');
  } finally {
    await admin.disconnect();
  }
});
