// npm run stack: local infra + ingress, router and deliverer with examples/hookyard.yaml,
// plus a demo sink that prints what it receives. Ctrl-C stops the services (the infra
// keeps running; `npm run infra:down` stops it).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { exportLines, stackOptions, up } from './infra/local-stack.ts';

if (process.argv.includes('--help')) {
  console.log(`Usage: npm run stack

Starts Kafka, Redis and the registry (as infra:up does), a demo sink on SINK_PORT (9999)
and the ingress (PORT, 8080), router and deliverer with examples/hookyard.yaml
(HOOKYARD_CONFIG to use another). Ctrl-C stops the services; infra:down stops the rest.`);
  process.exit(0);
}

const root = resolve(import.meta.dirname, '..');
const sinkPort = Number(process.env.SINK_PORT ?? 9999);
const port = Number(process.env.PORT ?? 8080);
const addrs = await up(stackOptions());
console.log(exportLines(addrs));

const sink = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    console.log(`\n[sink] ${req.method} ${req.url} webhook-id=${req.headers['webhook-id']} source=${req.headers['x-hookyard-source']}\n[sink] ${Buffer.concat(chunks).toString('utf8')}`);
    res.writeHead(204).end();
  });
}).listen(sinkPort, '127.0.0.1');

const env = {
  ...process.env,
  ...addrs,
  HOOKYARD_CONFIG: process.env.HOOKYARD_CONFIG ?? join(root, 'examples', 'hookyard.yaml'),
  SINK_URL: `http://127.0.0.1:${sinkPort}/hook`,
  PORT: String(port),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
};
const children: ChildProcess[] = ['ingress', 'router', 'deliverer'].map((s) =>
  spawn(process.execPath, [join(root, 'services', s, 'src', 'main.ts')], { env, stdio: 'inherit' }));

// Ready when ingress answers /readyz (a real Kafka metadata call behind it).
for (let i = 0; i < 120; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
  } catch { /* not listening yet */ }
  await new Promise((r) => setTimeout(r, 500));
}
console.log(`
hookyard is up. Try:
  curl -i -X POST http://127.0.0.1:${port}/webhooks/demo -H 'content-type: application/json' -d '{"customer":"cus_1","hello":"world"}'
The event lands at the demo sink (printed here as [sink] …). Ctrl-C to stop.`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  sink.close();
  Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r))))).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
