// A small HTTP side door for services that do not serve HTTP themselves (router,
// deliverer): GET /healthz, GET /readyz (a real Kafka call) and GET /metrics.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Admin } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';

export interface OpsServer {
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/** `details` are added to /readyz's answer (what a 202 means, the config version run…), read at each call when a function. */
export function opsServer(metrics: Registry, ready: () => Promise<boolean>, details: Record<string, unknown> | (() => Record<string, unknown>) = {}): OpsServer {
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/healthz') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      if (req.url === '/readyz') {
        const ok = await ready().catch(() => false);
        return res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ready' : 'not ready', ...(typeof details === 'function' ? details() : details) }));
      }
      if (req.url === '/metrics') return res.writeHead(200, { 'content-type': metrics.contentType }).end(await metrics.metrics());
      res.writeHead(404).end();
    })();
  });
  return {
    listen: (port, host = '0.0.0.0') => new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`metrics port ${port}: ${err.message}`)));
      server.listen(port, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
    }),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Kafka reachable: a metadata call that lists partition leaders, bounded in time. */
export function kafkaReadyCheck(admin: Admin, topic: string): () => Promise<boolean> {
  return async () => {
    try {
      const meta = await Promise.race([
        admin.fetchTopicMetadata({ topics: [topic] }),
        new Promise<never>((_, r) => setTimeout(() => r(new Error('timeout')), 2000).unref()),
      ]);
      return meta.topics[0]?.partitions.every((p) => p.leader >= 0) ?? false;
    } catch {
      return false;
    }
  };
}

/** Consumer lag per topic (end offsets minus the group's committed offsets), read on scrape. */
export function lagGauge(metrics: Registry, admin: Admin, group: string, topics: () => string[], name: string): Gauge {
  return new Gauge({
    name, help: 'Records not yet processed by the consumer group, per topic', labelNames: ['topic'], registers: [metrics],
    async collect() {
      try {
        const list = topics();
        const committed = await admin.fetchOffsets({ groupId: group, topics: list });
        for (const t of committed) {
          const ends = await admin.fetchTopicOffsets(t.topic);
          let lag = 0;
          for (const p of ends) {
            const c = Number(t.partitions.find((x) => x.partition === p.partition)?.offset ?? -1);
            lag += Math.max(0, Number(p.high) - (c >= 0 ? c : Number(p.low)));
          }
          this.set({ topic: t.topic }, lag);
        }
      } catch { /* keep the last values */ }
    },
  });
}
