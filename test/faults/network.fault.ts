// Scenario 7: network faults between every service and Kafka. All Kafka traffic goes
// through a TCP proxy (the broker advertises the proxy's port), which in turn adds 200 ms
// to every chunk, resets every connection, and black-holes them (a half-open peer: the
// connections stay up, no byte moves). Nothing acknowledged is lost; order holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { infra } from '../support/infra.ts';
import { stackOptions } from '../../scripts/infra/local-stack.ts';
import { startKafkaCluster, type KafkaCluster } from '../../scripts/infra/kafka-cluster.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { Pipeline, report, sleep } from './support/pipeline.ts';

test('network faults between the services and Kafka (delay, reset, half-open): nothing lost, order kept', { timeout: 900_000 }, async () => {
  const a = await infra();
  const base = Number(process.env.FAULT_PROXY_KAFKA_PORT ?? 23200);
  const proxyPort = base + 9;
  let cluster: KafkaCluster | undefined;
  let proxy: TcpProxy | undefined;
  let p: Pipeline | undefined;
  try {
    proxy = await startTcpProxy(proxyPort, base);
    cluster = await startKafkaCluster(stackOptions(), { nodes: 1, basePort: base, advertisedPorts: [proxyPort], dir: mkdtempSync(join(tmpdir(), 'hookyard-netfault-')) });
    p = new Pipeline({ scenario: 'network', addrs: { ...a, KAFKA_BROKERS: cluster.brokers } });
    await p.setUp();
    const load = p.startLoad({ events: 12_000, rate: 200 });
    const from = Date.now();
    await sleep(8000);
    const faults = [
      { what: '+200 ms per chunk for 10 s', mode: { kind: 'delay', ms: 200 } as const, ms: 10_000 },
      { what: 'every connection reset, new ones refused, for 5 s', mode: { kind: 'cut' } as const, ms: 5_000 },
      { what: 'half-open (no byte moves) for 15 s', mode: { kind: 'blackhole' } as const, ms: 15_000 },
    ];
    for (const f of faults) {
      p.fault(f.what);
      proxy.set(f.mode);
      await sleep(f.ms);
      proxy.set({ kind: 'pass' });
      p.heal();
      await sleep(8000);
    }
    const to = Date.now();
    await load.done;
    const complete = await p.waitDelivered(240_000);
    const r = p.result({ from, to });
    report({ ...r, notes: `proxy accepted ${proxy.accepted()} connections (${proxy.upstreamErrors()} upstream connect errors)` });
    if (r.lost > 0) console.log(await p.explainLost());
    assert.ok(proxy.accepted() > 3, 'Kafka traffic went through the proxy');
    assert.ok(complete, `not all delivered: lost ${r.lost}`);
    assert.equal(r.lost, 0);
    assert.equal(r.orderViolations, 0);
    assert.equal(r.answers.other, 0);
  } finally {
    await p?.tearDown();
    await proxy?.close();
    await cluster?.destroy();
  }
});
