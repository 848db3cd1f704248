// The envelope codec against the real registry: a backlog decoded at once compiles its
// schema once, and a record naming a schema id that does not exist is poison.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnvelopeCodec, isPoisonRecord, topicNames, type Delivery } from '@hookyard/core';
import { infra, uniquePrefix } from '../../support/infra.ts';

const delivery = (n: number): Delivery => ({
  eventId: `e${n}`, source: 's', destination: 'd', receivedAt: Date.now(), orderingKey: `k${n}`,
  headers: { 'content-type': 'application/json' }, body: Buffer.from(`{"n":${n}}`), attempt: 0, replayId: null,
});

test('2,000 records decoded at once by a fresh process fetch and compile their schema once', async () => {
  const a = await infra();
  const topic = topicNames(uniquePrefix('codec')).delivery('d');
  const writer = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  const records = await Promise.all(Array.from({ length: 2000 }, (_, n) => writer.encode(topic, 'delivery', delivery(n))));

  const reader = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  // The client's cache is filled once per compiled schema: count the fills.
  const cache = (reader.registry as unknown as { cache: { setSchema: (...args: unknown[]) => unknown } }).cache;
  let compiled = 0;
  const setSchema = cache.setSchema.bind(cache);
  cache.setSchema = (...args: unknown[]) => { compiled++; return setSchema(...args); };
  const decoded = await Promise.all(records.map((r) => reader.decode<Delivery>(r)));
  assert.equal(compiled, 1);
  assert.deepEqual(decoded.map((d) => d.eventId), records.map((_, n) => `e${n}`));
});

test('a record naming a schema id the registry does not have is poison, and the next good one decodes', async () => {
  const a = await infra();
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  const bad = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]);
  const err = await codec.decode(bad).then(() => null, (e: unknown) => e);
  assert.ok(err, 'rejected');
  assert.equal(isPoisonRecord(err), true);
  const topic = topicNames(uniquePrefix('codec2')).delivery('d');
  const good = await codec.encode(topic, 'delivery', delivery(1));
  assert.equal((await codec.decode<Delivery>(good)).eventId, 'e1');
});

test('encode writes exactly what the registry client writes, for records smaller and far larger than its scratch', async () => {
  const a = await infra();
  const topic = topicNames(uniquePrefix('codec3')).delivery('d');
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  const id = await codec.schemaId(topic, 'delivery');
  // 10 bytes, 1 KiB (past avsc's 1 KiB scratch), 200 KiB (past the codec's own 64 KiB one), then small again.
  for (const size of [10, 1024, 200 * 1024, 10]) {
    const value = { ...delivery(size), body: Buffer.alloc(size, 0x61), headers: { 'x-n': String(size) } };
    const ours = await codec.encode(topic, 'delivery', value);
    assert.deepEqual(ours, await codec.registry.encode(id, value), `${size}-byte body`);
    assert.deepEqual((await codec.decode<Delivery>(ours)).body, value.body);
  }
});

test('an invalid value is refused with the registry client\'s error, naming the field', async () => {
  const a = await infra();
  const topic = topicNames(uniquePrefix('codec4')).delivery('d');
  const codec = new EnvelopeCodec(a.SCHEMA_REGISTRY_URL);
  await codec.schemaId(topic, 'delivery');
  const bad = { ...delivery(1), attempt: 'three' } as unknown as Delivery;
  await assert.rejects(codec.encode(topic, 'delivery', bad), (e: Error) => e.name === 'ConfluentSchemaRegistryValidationError' && /attempt/.test(JSON.stringify(e)));
});
