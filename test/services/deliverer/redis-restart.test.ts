// A waiting retry lives in Kafka, not Redis: restarting Redis with empty memory while it
// waits loses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDeliverer } from '../../../services/deliverer/src/app.ts';
import { addresses, redisReady, restart, stackOptions } from '../../../scripts/infra/local-stack.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startSink } from '../../support/sink.ts';
import { quietLog, runtimeFor, testConfig } from '../../support/stack.ts';
import { delivery, deliveryFeeder } from '../../support/feeder.ts';

// Restarting Redis needs the local process stack (not a container or an external Redis).
const local = addresses(stackOptions());
const usesLocalStack = !process.env.REDIS_URL || process.env.REDIS_URL === local.REDIS_URL;

test('retries waiting across a Redis restart with empty memory are all delivered', { timeout: 120_000, skip: !usesLocalStack && 'REDIS_URL is not the local stack' }, async () => {
  const a = await infra();
  const sink = await startSink();
  sink.respond = (n) => (n < 5 ? 503 : 200);
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('redis'), partitions: 1 },
    sources: [{ name: 's' }],
    destinations: [{ name: 'd', url: sink.url, retry: { schedule: [0, 3000] } }],
  });
  const feeder = await deliveryFeeder(a, config);
  const deliverer = buildDeliverer({ config, env: runtimeFor(a), log: quietLog });
  await deliverer.start();
  try {
    await feeder.send([0, 1, 2, 3, 4].map((n) => delivery('d', n)));
    while (sink.requests.length < 5) await new Promise((r) => setTimeout(r, 50));
    await restart(stackOptions(), 'redis');
    assert.equal(await redisReady(a.REDIS_URL), true);
    const got = await sink.waitFor(5, 60_000);
    assert.deepEqual(got.map((r) => r.body.toString()).sort(), [0, 1, 2, 3, 4].map((n) => `{"n":${n}}`));
  } finally {
    await deliverer.close();
    await feeder.close();
    await sink.close();
  }
});
