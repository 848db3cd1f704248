#!/usr/bin/env node
// The hookyard CLI. Replay, rewind, dlq and events arrive with the replayer issue (#7);
// until then every command says so plainly and exits 2 without touching anything.
const HELP = `Usage: hookyard <command> [options]

Commands (see SPEC.md "Replayer CLI"):
  replay   --from <time> --to <time> [--source S] [--destination D] [--dry-run] [--force]
  rewind   --group <consumer group> --to <time> [--topic T]
  dlq      list [--destination D] | redrive [--destination D] [--from/--to]
  events   list --from/--to | show <event id>

Environment: HOOKYARD_CONFIG, KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL.`;

const [cmd] = process.argv.slice(2);
if (cmd === undefined || cmd === '--help' || cmd === '-h' || process.argv.includes('--help')) {
  process.stdout.write(`${HELP}\n`);
} else {
  process.stderr.write(`hookyard: "${cmd}" is not available in this version yet (tracked as the replayer issue)\n`);
  process.exitCode = 2;
}
