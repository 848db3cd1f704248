// Readiness checks are real protocol calls: they answer true for the running stack and
// false for ports where nothing speaks the protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { kafkaReady, redisReady, registryReady } from '../../scripts/infra/local-stack.ts';
import { infra } from '../support/infra.ts';

test('kafka, redis and registry readiness use their protocols', async () => {
  const a = await infra();
  assert.equal(await kafkaReady(a.KAFKA_BROKERS), true);
  assert.equal(await redisReady(a.REDIS_URL), true);
  assert.equal(await registryReady(a.SCHEMA_REGISTRY_URL), true);
  // A port that accepts TCP but speaks nothing: a port probe would say "up".
  const silent = createServer((sock) => sock.on('data', () => {}));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  try {
    assert.equal(await redisReady(`redis://127.0.0.1:${port}`), false);
    assert.equal(await registryReady(`http://127.0.0.1:${port}/apis/ccompat/v7`), false);
    assert.equal(await kafkaReady(`127.0.0.1:${port}`), false);
  } finally {
    silent.close();
  }
});
