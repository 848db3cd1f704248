// kafkajs 2.2.4 frames every request (size, API key and version, correlation id, client
// id) by copying the encoded body into a second encoder, and that one into a third, each
// starting small and growing by doubling: for a 30 KB produce request that is two copies
// and ~120 KB of fresh buffers per request, on the thread that answers HTTP. Here the
// frame is written once, by kafkajs's own encoder methods, into a buffer of its exact size
// (test/packages/core/kafkajs/request.test.ts compares the bytes with kafkajs's framing).
//
// kafkajs's Connection takes the function when it loads, so this module must be imported
// before kafkajs (kafka.ts does); `framingInstalled` says whether it was.
import { createRequire } from 'node:module';
import { Encoder, type KafkajsEncoder } from './encoding.ts';

const require = createRequire(import.meta.url);
const REQUEST_MODULE = require.resolve('kafkajs/src/protocol/request.js');
const CONNECTION_MODULE = require.resolve('kafkajs/src/network/connection.js');

export interface RequestArgs {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode: () => KafkajsEncoder | Promise<KafkajsEncoder> };
}
type CreateRequest = (args: RequestArgs) => Promise<KafkajsEncoder>;

const INT16 = 2;
const INT32 = 4;

/** kafkajs's request framing, written once into a buffer of the exact size. */
export async function frameRequest({ correlationId, clientId, request: { apiKey, apiVersion, encode } }: RequestArgs): Promise<KafkajsEncoder> {
  const payload = await encode();
  if (payload == null || !Buffer.isBuffer(payload.buf)) throw new Error('value should be an instance of Encoder');
  const bodyLength = payload.offset;
  const idLength = clientId == null ? 0 : Buffer.byteLength(clientId, 'utf8');
  const size = INT16 + INT16 + INT32 + INT16 + idLength + bodyLength;
  const out = new Encoder(0);
  // Every byte is written below, and `buffer` ends at `offset`: no zero-fill needed.
  out.buf = Buffer.allocUnsafe(INT32 + size);
  out.writeInt32(size).writeInt16(apiKey).writeInt16(apiVersion).writeInt32(correlationId).writeString(clientId);
  payload.buf.copy(out.buf, out.offset, 0, bodyLength);
  out.offset += bodyLength;
  return out;
}

const FRAMING = Symbol.for('hookyard.kafkajs-request');
const connectionLoaded = require.cache[CONNECTION_MODULE] !== undefined;
const SWITCH = Symbol.for('hookyard.kafkajs-request.switch');
const loaded = require(REQUEST_MODULE) as CreateRequest & { [FRAMING]?: CreateRequest; [SWITCH]?: { fast: boolean } };
/** kafkajs's own framing (kept for the tests). */
export const kafkajsCreateRequest: CreateRequest = loaded[FRAMING] ?? loaded;
/** Whether kafkajs's connections frame with frameRequest (false when kafkajs was loaded before this module). */
export let framingInstalled = loaded[FRAMING] !== undefined;
/** A switch for bench/kafkajs-ab.ts (both framings in one process); shared by every copy of this module. */
export const framing: { fast: boolean } = loaded[SWITCH] ?? { fast: true };
if (!framingInstalled && !connectionLoaded) {
  const ours = (args: RequestArgs) => (framing.fast ? frameRequest(args) : kafkajsCreateRequest(args));
  require.cache[REQUEST_MODULE]!.exports = Object.assign(ours, { [FRAMING]: kafkajsCreateRequest, [SWITCH]: framing });
  framingInstalled = true;
}
