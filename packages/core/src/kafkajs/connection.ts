// A fix to kafkajs 2.2.4's Connection (the last release; the project is unmaintained).
//
// A Connection object outlives its sockets: kafkajs reconnects the same object (the seed
// broker survives every consumer crash and restart). But the receive buffer that
// reassembles responses (`chunks`, `bytesBuffered`, `bytesNeeded`) belongs to the object,
// not to the socket, and is never cleared:
//   - a socket reset in the middle of a response leaves its partial frame in the buffer;
//     the next socket's bytes are read as the rest of it, and from then on every frame is
//     misread ("Response without match", then every request times out) — for good, since
//     restarting the consumer reuses the object (fault scenario 7 found this);
//   - disconnect() only end()s the socket, so a late answer on it still reaches the
//     buffer after a new socket has taken over.
// Both are closed here: the buffer starts empty with every socket, and a socket kafkajs
// has left is destroyed, so nothing more is read from it.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

const require = createRequire(import.meta.url);

/** The part of kafkajs's internal Connection this module and its test use. */
export interface KafkajsConnection {
  socket?: Socket;
  chunks: Buffer[];
  bytesBuffered: number;
  bytesNeeded: number;
  isConnected(): boolean;
  connect(): Promise<boolean>;
  disconnect(): Promise<boolean>;
  send(request: unknown): Promise<unknown>;
}

export interface KafkajsConnectionOptions {
  host: string;
  port: number;
  logger: unknown;
  socketFactory: unknown;
  requestTimeout: number;
  connectionTimeout: number;
}

export const Connection = require('kafkajs/src/network/connection.js') as new (o: KafkajsConnectionOptions) => KafkajsConnection;

const FRAME_SIZE_BYTES = 4; // every response starts with its size as an int32

const proto = Connection.prototype as KafkajsConnection;
const FIXED = Symbol.for('hookyard.kafkajs-connection-fix');

if (!(FIXED in proto)) {
  Object.defineProperty(proto, FIXED, { value: true });
  const connect = proto.connect;
  const disconnect = proto.disconnect;
  proto.connect = function (this: KafkajsConnection) {
    if (!this.isConnected()) {
      this.chunks = [];
      this.bytesBuffered = 0;
      this.bytesNeeded = FRAME_SIZE_BYTES;
    }
    return connect.call(this);
  };
  proto.disconnect = async function (this: KafkajsConnection) {
    const socket = this.socket;
    try {
      return await disconnect.call(this);
    } finally {
      socket?.destroy();
    }
  };
}
