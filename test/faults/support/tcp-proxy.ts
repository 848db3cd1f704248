// A TCP proxy that injects network faults between a client and a server:
//   pass      forward bytes as they come
//   delay     forward every chunk `ms` later (order kept)
//   cut       reset every open connection and every new one
//   blackhole accept and keep connections but move no byte either way (a half-open peer);
//             on heal those connections are reset, as a dead peer's would be
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = { kind: 'pass' } | { kind: 'delay'; ms: number } | { kind: 'cut' } | { kind: 'blackhole' };

export interface TcpProxy {
  port: number;
  set(mode: ProxyMode): void;
  /** Connections accepted so far (a sanity check that traffic went through the proxy). */
  accepted(): number;
  /** Connections to the upstream that failed (the server was not there). */
  upstreamErrors(): number;
  close(): Promise<void>;
}

interface Pair { client: Socket; upstream: Socket; frozen: boolean }

export async function startTcpProxy(listenPort: number, upstreamPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  let mode: ProxyMode = { kind: 'pass' };
  let count = 0;
  let upstreamErrors = 0;
  const pairs = new Set<Pair>();

  const forward = (pair: Pair, from: Socket, to: Socket) => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (mode.kind === 'delay') {
        const ms = mode.ms;
        chain = chain.then(() => new Promise((r) => setTimeout(r, ms))).then(() => { if (!to.destroyed) to.write(chunk); });
      } else {
        chain = chain.then(() => { if (!to.destroyed) to.write(chunk); });
      }
    });
    from.on('close', () => { void chain.then(() => to.destroy()); pairs.delete(pair); });
    from.on('error', () => to.destroy());
  };

  const server: Server = createServer((client) => {
    count++;
    client.on('error', () => {});
    if (mode.kind === 'cut') { client.resetAndDestroy(); return; }
    const upstream = connect(upstreamPort, host);
    upstream.on('error', () => { if (!upstream.remoteAddress) upstreamErrors++; client.destroy(); });
    const pair: Pair = { client, upstream, frozen: false };
    pairs.add(pair);
    if (mode.kind === 'blackhole') freeze(pair);
    forward(pair, client, upstream);
    forward(pair, upstream, client);
  });
  const freeze = (p: Pair) => { p.frozen = true; p.client.pause(); p.upstream.pause(); };

  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(listenPort, host, resolve); });
  return {
    port: listenPort,
    accepted: () => count,
    upstreamErrors: () => upstreamErrors,
    set(next) {
      const was = mode;
      mode = next;
      if (next.kind === 'cut') for (const p of pairs) { p.client.resetAndDestroy(); p.upstream.destroy(); }
      if (next.kind === 'blackhole') for (const p of pairs) freeze(p);
      if (was.kind === 'blackhole' && next.kind !== 'blackhole') {
        for (const p of pairs) if (p.frozen) { p.client.resetAndDestroy(); p.upstream.destroy(); }
      }
    },
    close: () => new Promise<void>((resolve) => {
      for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); }
      server.close(() => resolve());
    }),
  };
}
