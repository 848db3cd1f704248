// Scenario 4: a three-broker cluster (replication factor 3, min.insync.replicas=2), one
// broker killed -9 mid-run and started again 20 s later. acks=all with two in-sync
// replicas left: ingress keeps answering 2xx and nothing it acknowledged is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { infra } from '../support/infra.ts';
import { stackOptions } from '../../scripts/infra/local-stack.ts';
import { startKafkaCluster, type KafkaCluster } from '../../scripts/infra/kafka-cluster.ts';
import { Pipeline, report, sleep } from './support/pipeline.ts';

test('three brokers, RF 3, min ISR 2: one broker killed mid-run, ingress keeps answering, nothing lost', { timeout: 900_000 }, async () => {
  const a = await infra();
  let cluster: KafkaCluster | undefined;
  let p: Pipeline | undefined;
  try {
    cluster = await startKafkaCluster(stackOptions(), {
      nodes: 3, basePort: Number(process.env.FAULT_CLUSTER_PORT ?? 23100), minInsyncReplicas: 2,
      dir: mkdtempSync(join(tmpdir(), 'hookyard-cluster-')),
    });
    p = new Pipeline({ scenario: 'cluster-broker', addrs: { ...a, KAFKA_BROKERS: cluster.brokers }, replicationFactor: 3 });
    await p.setUp();
    const load = p.startLoad({ events: 9_000, rate: 200 });
    await sleep(12_000);
    const victim = 1 + Math.floor(Math.random() * 2); // node 2 or 3: the first is every client's bootstrap address
    p.fault(`kill -9 broker ${victim + 1} of 3 (down 20 s)`);
    const from = Date.now();
    await cluster.kill(victim);
    await sleep(20_000);
    const to = Date.now();
    await cluster.start(victim);
    p.heal();
    await load.done;
    const complete = await p.waitDelivered(240_000);
    const r = p.result({ from, to });
    report(r);
    if (r.lost > 0) console.log(await p.explainLost());
    assert.ok(complete, `not all delivered: lost ${r.lost}`);
    assert.equal(r.lost, 0);
    assert.equal(r.orderViolations, 0);
    assert.ok(r.answers['2xx'] > 0.5 * 200 * 20, `ingress kept answering 2xx during the outage (${r.answers['2xx']})`);
    assert.equal(r.answers.other, 0);
  } finally {
    await p?.tearDown();
    await cluster?.destroy();
  }
});
