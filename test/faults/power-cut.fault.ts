// Scenario 9: a power cut under one broker, in both modes of kafka.durability. The
// broker's data sits on lossyfs (scripts/infra/lossyfs.py), a FUSE filesystem that, on
// command, drops every byte not fsynced — what the page cache takes with it when the
// power goes. Once the broker and ingress are up (their files counted as written back,
// as the kernel would have), ingress accepts N events (202 each), the broker is killed, the unsynced
// writes are dropped, the broker starts again on what is left, and raw-events is read
// back: under fsync every accepted event must be there; under replicated on one copy
// (acceptPowerLossRisk) events are lost — which shows the harness does drop them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { infra } from '../support/infra.ts';
import { spawnService, writeConfigFile } from '../support/stack.ts';
import { stackOptions } from '../../scripts/infra/local-stack.ts';
import { startKafkaCluster, type KafkaCluster } from '../../scripts/infra/kafka-cluster.ts';
import { mountLossyFs, type LossyFs } from '../../scripts/infra/lossyfs.ts';
import { report, scanTopic } from './support/pipeline.ts';

const N = Number(process.env.POWER_CUT_EVENTS ?? 1000);

async function run(mode: 'fsync' | 'replicated', basePort: number): Promise<{ accepted: number; survived: number; cut: { cut: number; dropped: number } }> {
  const a = await infra();
  const work = mkdtempSync(join(tmpdir(), `hookyard-power-cut-${mode}-`));
  const backing = join(work, 'disk');
  const mnt = join(work, 'mnt');
  mkdirSync(backing);
  mkdirSync(mnt);
  let fs: LossyFs | undefined = await mountLossyFs(stackOptions().cacheDir, backing, mnt);
  let cluster: KafkaCluster | undefined;
  let ingress: Awaited<ReturnType<typeof spawnService>> | undefined;
  try {
    cluster = await startKafkaCluster(stackOptions(), { nodes: 1, basePort, dir: join(work, 'cluster'), dataDir: mnt, flushEveryWrite: mode === 'fsync' });
    const prefix = `pc-${mode}.`;
    const configFile = writeConfigFile({
      kafka: { topicPrefix: prefix, partitions: 3, durability: mode, ...(mode === 'replicated' ? { acceptPowerLossRisk: true } : {}) },
      sources: [{ name: 'pc', orderingKey: 'body.key' }],
    });
    const port = basePort + 50;
    ingress = await spawnService('ingress', configFile, { ...a, KAFKA_BROKERS: cluster.brokers }, 'ingress started', { PORT: String(port) });
    // The set-up (the broker's own files, the topics) has been up for long enough to be
    // written back by the kernel; what is at risk is what the load writes from here on.
    await fs.settle();
    const accepted: string[] = [];
    let next = 0;
    const lane = async () => {
      while (next < N) {
        const n = next++;
        const res = await fetch(`http://127.0.0.1:${port}/webhooks/pc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n, key: `k${n % 16}` }) });
        if (res.status === 202) accepted.push(((await res.json()) as { id: string }).id);
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    assert.ok(accepted.length > N * 0.9, `${mode}: ${accepted.length} of ${N} accepted`);
    // The power goes: the broker dies, and with it whatever the page cache held.
    await cluster.kill(0);
    ingress.kill('SIGKILL');
    const cut = await fs.powerCut();
    await fs.unmount();
    fs = await mountLossyFs(stackOptions().cacheDir, backing, mnt);
    await cluster.start(0);
    const kafka = new Kafka({ brokers: cluster.brokers.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `${prefix}raw-events`;
    const hw = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const found = await scanTopic(kafka, topic, hw, false, accepted);
    return { accepted: accepted.length, survived: accepted.filter((id) => found.has(id)).length, cut };
  } finally {
    ingress?.kill('SIGKILL');
    await cluster?.destroy().catch(() => {});
    await fs?.unmount();
    rmSync(work, { recursive: true, force: true });
  }
}

test('a power cut under one broker: fsync keeps every accepted event; replicated on one copy loses them', { timeout: 900_000 }, async () => {
  const base = Number(process.env.FAULT_POWER_PORT ?? 23300);
  const fsync = await run('fsync', base);
  const replicated = await run('replicated', base + 100);
  report({
    scenario: 'power-cut', accepted: fsync.accepted, expectedDeliveries: fsync.accepted, delivered: fsync.survived, lost: fsync.accepted - fsync.survived,
    duplicates: 0, redelivered: 0, recaptured: 0, orderViolations: 0, answers: { '2xx': fsync.accepted, '503': 0, other: 0, error: 0 }, recoverMs: 0,
    faults: ['kill -9 of the broker, then every write not fsynced dropped (lossyfs), then the broker restarted'],
    notes: `durability fsync: ${fsync.survived} of ${fsync.accepted} accepted events survived (${fsync.cut.dropped} unsynced bytes dropped in ${fsync.cut.cut} files); `
      + `durability replicated on one copy: ${replicated.survived} of ${replicated.accepted} survived (${replicated.cut.dropped} bytes dropped in ${replicated.cut.cut} files)`,
  });
  assert.equal(fsync.survived, fsync.accepted, 'fsync: every event answered 202 survives the power cut');
  assert.ok(replicated.survived < replicated.accepted, `replicated on one copy loses events to a power cut (survived ${replicated.survived} of ${replicated.accepted}): otherwise the harness drops nothing`);
});
