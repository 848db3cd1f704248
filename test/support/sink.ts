// A real HTTP destination for tests: records every request and answers as told.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/** `delayMs`: the request is recorded on arrival and answered that much later (a slow destination). */
export interface Answer { status: number; headers?: Record<string, string>; delayMs?: number }

export interface Sink {
  url: string;
  /** Requests answered 2xx. */
  received: Received[];
  /** Every request, with the status it got. */
  requests: (Received & { status: number })[];
  /** Status to answer with; a function sees the request number (0-based). */
  respond: number | ((n: number, r: Received) => number | Answer);
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startSink(path = '/hook'): Promise<Sink> {
  let server: Server;
  const sink: Sink = {
    url: '',
    received: [],
    requests: [],
    respond: 200,
    async waitFor(count, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (sink.received.length < count) {
        if (Date.now() > deadline) throw new Error(`sink got ${sink.received.length} of ${count} requests in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return sink.received;
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  let n = 0;
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      const answer = typeof sink.respond === 'function' ? sink.respond(n++, r) : sink.respond;
      const { status, headers = {}, delayMs = 0 } = typeof answer === 'number' ? { status: answer } : answer;
      sink.requests.push({ ...r, status });
      if (status >= 200 && status < 300) sink.received.push(r);
      const reply = () => { if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status < 300 ? 'ok' : 'nope'); };
      if (delayMs > 0) setTimeout(reply, delayMs).unref();
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return sink;
}
