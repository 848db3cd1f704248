// hookyard frames kafkajs requests in one buffer; the bytes must be kafkajs's own.
// @hookyard/core is imported before kafkajs, as in the services: the framing is replaced
// only when it is loaded first.
import { framingInstalled, frameRequest, kafkajsCreateRequest, type RequestArgs } from '@hookyard/core';
import { Encoder } from '../../../../packages/core/src/kafkajs/encoding.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomBytes, randomInt } from 'node:crypto';

const require = createRequire(import.meta.url);

function randomArgs(): RequestArgs {
  const body = randomBytes(randomInt(0, 4) === 0 ? randomInt(0, 16) : randomInt(0, 200_000));
  const clientIds = [null, '', 'hookyard-ingress', 'ü🔑-client', 'c'.repeat(randomInt(0, 600))];
  return {
    correlationId: randomInt(0, 2 ** 31),
    clientId: clientIds[randomInt(0, clientIds.length)]!,
    request: {
      apiKey: randomInt(0, 70),
      apiVersion: randomInt(0, 12),
      // An encoder grown by writes, as kafkajs's request encoders are (its buffer is longer than what was written).
      encode: async () => {
        const e = new Encoder();
        e.writeBufferInternal(body);
        return e;
      },
    },
  };
}

test('kafkajs\'s connections frame requests with hookyard\'s framing', () => {
  assert.equal(framingInstalled, true);
  assert.notEqual(require('kafkajs/src/protocol/request.js'), kafkajsCreateRequest);
});

test('the framing writes kafkajs\'s bytes, in a buffer of exactly their size', async () => {
  for (let i = 0; i < 300; i++) {
    const args = randomArgs();
    const ours = await frameRequest(args);
    const theirs = await kafkajsCreateRequest(args);
    assert.deepEqual(ours.buffer, theirs.buffer, `request ${i} (client id ${JSON.stringify(args.clientId)})`);
    assert.equal(ours.buf.length, ours.offset);
    // The size prefix counts everything after it.
    assert.equal(ours.buffer.readInt32BE(0), ours.offset - 4);
  }
});

test('a payload that is not an encoder is refused as kafkajs refuses it', async () => {
  const args = { correlationId: 1, clientId: 'x', request: { apiKey: 0, apiVersion: 3, encode: async () => ({}) as never } };
  await assert.rejects(frameRequest(args), /instance of Encoder/);
  await assert.rejects(kafkajsCreateRequest(args), /instance of Encoder/);
});
