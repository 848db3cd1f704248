// kafkajs keeps a connection's receive buffer across reconnects. A connection reset in
// the middle of a response left the partial frame there, the next socket's bytes were
// read as its continuation, and from then on every response on that connection was
// misframed: requests timed out after every restart, for good (fault scenario 7). These
// tests cut a real broker's response mid-frame and reuse the connection, as kafkajs's seed
// broker does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { infra } from '../../../support/infra.ts';
import { repoRoot } from '../../../support/stack.ts';
import { Connection } from '../../../../packages/core/src/kafkajs/connection.ts';

// kafkajs internals for driving one Connection by hand.
const kafkajs = createRequire(join(repoRoot, 'packages', 'core', 'src', 'kafka.ts'));
const { createLogger } = kafkajs('kafkajs/src/loggers/index.js') as { createLogger(o: { level: number; logCreator: () => () => void }): unknown };
const socketFactory = kafkajs('kafkajs/src/network/socketFactory.js') as () => unknown;
const { protocol: apiVersions } = kafkajs('kafkajs/src/protocol/requests/apiVersions/index.js') as { protocol(o: { version: number }): () => unknown };
/** An ApiVersions v0 request, the simplest round trip a broker answers. */
const apiVersionsRequest = () => apiVersions({ version: 0 })();
const connectionTo = (port: number, requestTimeout: number) => new Connection({
  host: '127.0.0.1', port, logger: createLogger({ level: 0, logCreator: () => () => {} }), socketFactory: socketFactory(), requestTimeout, connectionTimeout: 3000,
});

test('the patched Connection is the one every service\'s kafkajs uses', () => {
  for (const service of ['ingress', 'router', 'deliverer', 'replayer']) {
    const req = createRequire(join(repoRoot, 'services', service, 'src', 'main.ts'));
    assert.equal(req('kafkajs/src/network/connection.js'), Connection, service);
    assert.ok(Symbol.for('hookyard.kafkajs-connection-fix') in Connection.prototype);
  }
});

/** A proxy that, on its first connection only, lets `firstBytes` of the answer through and then resets it. */
async function truncatingProxy(upstreamPort: number, firstBytes: number): Promise<{ port: number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const first = n++ === 0;
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('data', (b) => upstream.write(b));
    let passed = 0;
    upstream.on('data', (b: Buffer) => {
      if (!first) { client.write(b); return; }
      if (passed >= firstBytes) return;
      client.write(b.subarray(0, firstBytes - passed));
      passed += Math.min(b.length, firstBytes - passed);
      if (passed >= firstBytes) setTimeout(() => { client.resetAndDestroy(); upstream.destroy(); }, 100);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

test('a connection reset mid-response and reconnected reads the next response intact', async () => {
  const { KAFKA_BROKERS } = await infra();
  const port = Number(KAFKA_BROKERS.split(',')[0]!.split(':')[1]);
  const proxy = await truncatingProxy(port, 10);
  const conn = connectionTo(proxy.port, 3000);
  try {
    await conn.connect();
    await assert.rejects(conn.send(apiVersionsRequest()), /ECONNRESET|Closed connection|Connection error/);
    await conn.connect();
    const versions = await conn.send(apiVersionsRequest()) as { apiVersions: unknown[] };
    assert.ok(versions.apiVersions.length > 10, 'the broker listed its API versions');
    // and the one after it too
    const again = await conn.send(apiVersionsRequest()) as { apiVersions: unknown[] };
    assert.equal(again.apiVersions.length, versions.apiVersions.length);
  } finally {
    await conn.disconnect().catch(() => {});
    await proxy.close();
  }
});

test('a socket kafkajs has left cannot touch the connection: neither its late bytes nor its end', async () => {
  const { KAFKA_BROKERS } = await infra();
  const port = Number(KAFKA_BROKERS.split(',')[0]!.split(':')[1]);
  // On its first connection the proxy holds the broker's answer (a slow network) and keeps
  // its side open after kafkajs leaves; once kafkajs is on a new socket, part of the late
  // answer arrives on the old one, and then the old one ends.
  let late: (() => void) | undefined;
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const first = n++ === 0;
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.on('data', (b) => upstream.write(b));
    const held: Buffer[] = [];
    upstream.on('data', (b: Buffer) => { if (first) held.push(b); else client.write(b); });
    if (first) late = () => { client.write(Buffer.concat(held).subarray(0, 10)); setTimeout(() => client.end(), 50); };
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const conn = connectionTo((server.address() as AddressInfo).port, 1000);
  try {
    await conn.connect();
    await assert.rejects(conn.send(apiVersionsRequest()), /timed out/);
    await conn.disconnect();
    await conn.connect();
    late!();
    await new Promise((r) => setTimeout(r, 200));
    const versions = await conn.send(apiVersionsRequest()) as { apiVersions: unknown[] };
    assert.ok(versions.apiVersions.length > 10);
  } finally {
    await conn.disconnect().catch(() => {});
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
