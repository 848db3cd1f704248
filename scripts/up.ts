// ./hookyard up (also npm run stack): the whole product on this machine — local Kafka,
// Redis and the registry, the ingress, router and deliverer with examples/hookyard.yaml,
// and a demo sink that prints what it receives. Ctrl-C stops the services; the
// infrastructure keeps running (./hookyard down stops it).
//
// Each service's log lines appear here under its name: pretty on a terminal, JSON lines
// otherwise (LOG_FORMAT forces either).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { logFormat } from '../packages/core/src/logger.ts';
import { hashPassword } from '../packages/core/src/password.ts';
import { stackOptions, up } from './infra/local-stack.ts';

const HELP = `Usage: ./hookyard up      (or npm run stack)

Starts Kafka (KRaft), Redis and the schema registry as local processes (downloading and
installing what is missing on first use), then the ingress, router, deliverer and console with
examples/hookyard.yaml and a demo sink that prints every delivery it receives. Prints
what to try. Ctrl-C stops the services; ./hookyard down stops the infrastructure.

Environment:
  HOOKYARD_CONFIG           the config to run (examples/hookyard.yaml)
  PORT                      ingress (8080)
  SINK_PORT                 the demo sink (9999)
  ROUTER_METRICS_PORT       router /healthz, /readyz, /metrics (8091)
  DELIVERER_METRICS_PORT    deliverer /healthz, /readyz, /metrics (8092)
  CONSOLE_PORT              console: the event history's API, /healthz, /readyz, /metrics (8090)
  HOOKYARD_API_TOKEN        the API token (generated once per stack, kept in its state dir)
  HOOKYARD_INDEX_PATH       the event history's SQLite file (in the stack's state dir)
  LOG_LEVEL (info), LOG_FORMAT (pretty on a terminal, else json)
  HOOKYARD_KAFKA_PORT, HOOKYARD_REDIS_PORT, HOOKYARD_REGISTRY_PORT, HOOKYARD_CACHE: see ./hookyard infra --help`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}

const root = resolve(import.meta.dirname, '..');
const num = (v: string | undefined, d: number): number => (v ? Number(v) : d);
const ports = {
  ingress: num(process.env.PORT, 8080),
  sink: num(process.env.SINK_PORT, 9999),
  router: num(process.env.ROUTER_METRICS_PORT, 8091),
  deliverer: num(process.env.DELIVERER_METRICS_PORT, 8092),
  console: num(process.env.CONSOLE_PORT, 8090),
};
const format = logFormat(1);
const say = (line: string): void => { process.stdout.write(`${line}\n`); };

const o = stackOptions();
say('hookyard: starting Kafka, Redis and the schema registry (the first start downloads them)…');
const addrs = await up(o, (m) => say(`hookyard: ${m}`)).catch(fail);
const sinkUrl = `http://127.0.0.1:${ports.sink}/hook`;
const sink = await startSink(ports.sink).catch(fail);
const config = process.env.HOOKYARD_CONFIG ?? join(root, 'examples', 'hookyard.yaml');
// The query API's token for this stack: kept with the stack so the CLI verbs use it too.
const tokenFile = join(o.stateDir, 'api-token');
const apiToken = process.env.HOOKYARD_API_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : randomBytes(24).toString('base64url'));
writeFileSync(tokenFile, apiToken, { mode: 0o600 });
// The web console's first operator: a generated password (never a fixed default), kept with
// the stack so a restart keeps the login; only its hash reaches the config.
const passwordFile = join(o.stateDir, 'admin-password');
const firstRun = !existsSync(passwordFile);
const adminPassword = firstRun ? randomBytes(12).toString('base64url') : readFileSync(passwordFile, 'utf8').trim();
if (firstRun) writeFileSync(passwordFile, adminPassword, { mode: 0o600 });
const adminHash = process.env.HOOKYARD_ADMIN_PASSWORD_HASH ?? await hashPassword(adminPassword);
const keyFile = join(o.stateDir, 'session-key');
const sessionKey = process.env.HOOKYARD_SESSION_KEY ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : randomBytes(32).toString('hex'));
writeFileSync(keyFile, sessionKey, { mode: 0o600 });
const consoleUrl = `http://127.0.0.1:${ports.console}`;
const env: NodeJS.ProcessEnv = {
  ...process.env, ...addrs,
  HOOKYARD_CONFIG: config,
  HOOKYARD_API_TOKEN: apiToken,
  HOOKYARD_ADMIN_PASSWORD_HASH: adminHash,
  HOOKYARD_SESSION_KEY: sessionKey,
  HOOKYARD_INDEX_PATH: process.env.HOOKYARD_INDEX_PATH ?? join(o.stateDir, 'index.db'),
  HOOKYARD_CONSOLE_URL: consoleUrl,
  SINK_URL: process.env.SINK_URL ?? sinkUrl,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  LOG_FORMAT: format,
  ...(format === 'pretty' && process.stdout.isTTY ? { FORCE_COLOR: '1' } : {}),
};
// The CLI verbs of ./hookyard read this when the environment names no stack.
writeFileSync(join(o.stateDir, 'up.env'), [
  ...Object.entries(addrs).map(([k, v]) => `${k}=${v}`),
  `HOOKYARD_CONFIG=\${HOOKYARD_CONFIG:-${config}}`,
  `SINK_URL=\${SINK_URL:-${env.SINK_URL}}`,
  `HOOKYARD_API_TOKEN=\${HOOKYARD_API_TOKEN:-${apiToken}}`,
  `HOOKYARD_CONSOLE_URL=\${HOOKYARD_CONSOLE_URL:-${consoleUrl}}`,
  `HOOKYARD_INDEX_PATH=\${HOOKYARD_INDEX_PATH:-${env.HOOKYARD_INDEX_PATH}}`,
  '',
].join('\n'));

const services = ['ingress', 'router', 'deliverer', 'console'] as const;
const children = new Map<string, ChildProcess>();
let stopping = false;
for (const name of services) {
  const extra = name === 'ingress' || name === 'console' ? { PORT: String(ports[name]) } : { METRICS_PORT: String(ports[name]) };
  const child = spawn(process.execPath, [join(root, 'services', name, 'src', 'main.ts')], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(name, child);
  // Log lines carry the service's name already; anything else a service prints gets it.
  createInterface({ input: child.stdout! }).on('line', (l) => say(l));
  createInterface({ input: child.stderr! }).on('line', (l) => say(`[${name}] ${l}`));
  child.on('exit', (code, signal) => {
    if (stopping) return;
    say(`hookyard: ${name} exited (${signal ?? `code ${code}`}); stopping the others`);
    void stop(1);
  });
}

const urls = { ingress: `http://127.0.0.1:${ports.ingress}`, router: `http://127.0.0.1:${ports.router}`, deliverer: `http://127.0.0.1:${ports.deliverer}`, console: consoleUrl };
// Ready when each answers /readyz, a real Kafka call behind it.
const readyBy = Date.now() + 120_000;
for (const [name, url] of Object.entries(urls)) {
  while (!stopping) {
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > readyBy) {
      say(`hookyard: ${name} not ready after 120 s (${url}/readyz); stopping`);
      await stop(1);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}
if (!stopping) {
  say(`
hookyard is up.
  ingress     ${urls.ingress}/webhooks/<source>   (sources in ${config})
  demo sink   ${sinkUrl}   (what it receives is printed here as [sink] …)
  console     ${urls.console}/   log in as admin, password ${process.env.HOOKYARD_ADMIN_PASSWORD_HASH ? '(yours: HOOKYARD_ADMIN_PASSWORD_HASH is set)' : `${adminPassword}   (kept in ${passwordFile})`}
  history API ${urls.console}/api/v1/events   (token in ${tokenFile})
  metrics     ${urls.ingress}/metrics  ${urls.router}/metrics  ${urls.deliverer}/metrics  ${urls.console}/metrics
  Kafka ${addrs.KAFKA_BROKERS}   registry ${addrs.SCHEMA_REGISTRY_URL}   Redis ${addrs.REDIS_URL}

Try:
  curl -i -X POST ${urls.ingress}/webhooks/demo -H 'content-type: application/json' -d '{"customer":"cus_1","hello":"world"}'
and, from another terminal:
  ./hookyard events search --from 10m
  ./hookyard events show <id from the curl's answer>
  ./hookyard destination status

Ctrl-C stops the services; ./hookyard down stops Kafka, Redis and the registry.
`);
}

function fail(err: unknown): never {
  process.stderr.write(`hookyard up: ${(err as Error).message}\n`);
  process.exit(1);
}

function startSink(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      say(`[sink] ${req.method} ${req.url} webhook-id=${String(req.headers['webhook-id'])} source=${String(req.headers['x-hookyard-source'])} ${Buffer.concat(chunks).toString('utf8')}`);
      res.writeHead(204).end();
    });
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', (err) => reject(new Error(`demo sink: port ${port}: ${err.message} (SINK_PORT picks another)`)));
    server.listen(port, '127.0.0.1', () => resolvePromise(server));
  });
}

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const c of children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all([...children.values()].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)))));
    sink.close();
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

