// npm run infra:up | infra:down | infra:status — see --help.
import { addresses, down, exportLines, stackOptions, status, up } from './local-stack.ts';

const HELP = `Usage: node scripts/infra/cli.ts <up|down|status> [--wipe]

Runs Apache Kafka (KRaft), Redis and Apicurio Registry (Confluent API) as local
processes, without Docker. Idempotent: "up" on a running stack only checks it.

  up       start what is not running, wait for real readiness, print export lines
  down     stop every process of the stack (--wipe also deletes its data)
  status   show each process and whether it answers (exit 1 if any does not)

Environment: HOOKYARD_KAFKA_PORT (19092; the controller takes the next port),
HOOKYARD_REDIS_PORT (16379), HOOKYARD_REGISTRY_PORT (18081), HOOKYARD_APICURIO_VERSION
(3.3.3 with Java 21+, else 3.0.9), HOOKYARD_CACHE
(~/.cache/hookyard: downloads and stack state), HOOKYARD_STACK_DIR.

Example:  eval "$(npm run -s infra:up)"`;

const [cmd, ...rest] = process.argv.slice(2);
const o = stackOptions();
try {
  if (cmd === 'up') {
    console.log(exportLines(await up(o)));
  } else if (cmd === 'down') {
    await down(o, { wipe: rest.includes('--wipe') });
    console.error('stack stopped');
  } else if (cmd === 'status') {
    const s = await status(o);
    for (const [name, v] of Object.entries(s)) console.log(`${name.padEnd(9)} pid=${v.pid ?? '-'} ${v.ready ? 'ready' : 'NOT READY'}`);
    console.log(exportLines(addresses(o)));
    process.exitCode = Object.values(s).every((v) => v.ready) ? 0 : 1;
  } else {
    console.log(HELP);
    process.exitCode = cmd === '--help' || cmd === '-h' || cmd === undefined ? 0 : 2;
  }
} catch (err) {
  console.error(`infra ${cmd}: ${(err as Error).message}`);
  process.exitCode = 1;
}
