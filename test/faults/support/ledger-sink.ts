// One HTTP destination per hookyard destination, recording every request in a ledger.
// A sink can go down (its port refuses connections) and come back on the same port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LedgerEntry {
  destination: string;
  status: number;
  webhookId: string;
  eventId: string;
  n: number;
  key: string;
  at: number;
}

/** What to answer: a status, optionally after a delay (a slow destination). */
export type Behaviour = (n: number) => number | { status: number; delayMs: number };

export interface LedgerSink {
  destination: string;
  url: string;
  entries: LedgerEntry[];
  behaviour: Behaviour;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startLedgerSink(destination: string): Promise<LedgerSink> {
  let port = 0;
  let server: Server | undefined;
  const sink: LedgerSink = {
    destination,
    url: '',
    entries: [],
    behaviour: () => 200,
    async down() {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    },
    async up() {
      if (server) return;
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          let body: { n?: number; key?: string } = {};
          try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body; } catch { /* recorded with n = -1 */ }
          const answer = sink.behaviour(body.n ?? -1);
          const { status, delayMs } = typeof answer === 'number' ? { status: answer, delayMs: 0 } : answer;
          const reply = () => {
            if (res.destroyed) return;
            // Recorded when answered: a request the deliverer gave up on (timeout) is not a delivery.
            sink.entries.push({
              destination, status, n: body.n ?? -1, key: body.key ?? '', at: Date.now(),
              webhookId: String(req.headers['webhook-id'] ?? ''), eventId: String(req.headers['x-hookyard-event-id'] ?? ''),
            });
            res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'nope');
          };
          if (delayMs > 0) setTimeout(reply, delayMs).unref();
          else reply();
        });
      });
      s.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(port, '127.0.0.1', resolve); });
      port = (s.address() as AddressInfo).port;
      server = s;
      sink.url = `http://127.0.0.1:${port}/hook/${destination}`;
    },
    close: () => sink.down(),
  };
  await sink.up();
  return sink;
}
