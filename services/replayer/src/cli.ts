// The hookyard command: parses argv, checks the input against the config before touching
// anything, runs one command, and maps the outcome to an exit code (0 done, 2 wrong input
// with nothing changed, 1 failed while working, with what was done so far).
import { parseArgs } from 'node:util';
import { ConfigError, hashPassword, loadConfig, runtimeEnv, type Config } from '@hookyard/core';
import { createContext, stdio, type CliContext, type Output } from './context.ts';
import { CommandFailed, UsageError } from './errors.ts';
import { DESTINATION_HELP, DESTINATION_OPTIONS, destination, destinationOptions, formatStatus } from './commands/destination.ts';
import { DLQ_HELP, DLQ_OPTIONS, dlq, dlqOptions, formatDlq } from './commands/dlq.ts';
import { EVENTS_HELP, EVENTS_OPTIONS, eventsOptions, formatShown, listEvents, showEvent, shownJson } from './commands/events.ts';
import { bodyFromKafka, eraseEvent, formatTrace, searchEvents, traceFromIndex } from './commands/history.ts';
import { consoleClient, ConsoleUnavailable, type ConsoleClient } from './console-client.ts';
import { REPLAY_HELP, REPLAY_OPTIONS, formatReplay, replay, replayOptions } from './commands/replay.ts';
import { ISSUES_HELP, ISSUES_OPTIONS, issues } from './commands/issues.ts';
import { CONFIG_HELP, CONFIG_OPTIONS, configCommand } from './commands/config.ts';
import { REWIND_HELP, REWIND_OPTIONS, formatMoves, rewind, rewindOptions } from './commands/rewind.ts';

export const HELP = `Usage: hookyard <command> [options]     (hookyard <command> --help for each)

Commands:
  replay   --from <time> [--to <time>] [--source S] [--destination D] [--event-id ID…]
           [--no-route] [--force] [--rate N/s] [--dry-run] [--json]
           send the events received in a window back through the pipeline
  rewind   --group G --to <time> [--topic T] [--dry-run]
           move a stopped consumer group's offsets to a time
  dlq      list | redrive [--destination D] [--from/--to] [--event-id ID…] [--dry-run]
           read the dead letters, or send them back to their destination
  events   search [filters] | show <event id> | erase <event id>
           | list --from/--to [--source S] [--rejected]
           the event history: find events by source, destination, state, type, status,
           key, JSON path or words; one event's whole story; what arrived (or was refused)
  destination pause|resume|reset-breaker <name> | status [<name>] [--json]
           stop and restart delivery to a destination; breaker, backlog and pause state
  issues   list | show <id> | ack|resolve|ignore|reopen <id>
           failures grouped into issues (delivery, transform, refusal, backpressure, receipts)
  config   test <draft> --from <time> | apply <file> | history | show | diff <a> <b> | rollback <v>
           try a config change on recorded events; apply it to running services, no restart
  password-hash   reads a password on stdin, prints its hash for console.users

Times: ISO 8601 (2026-11-24T10:00:00Z) or relative to now (90m, 2h, 3d) or now.
Exit codes: 0 done; 2 wrong input, nothing changed; 1 failed while working (what was
done so far is printed).

Environment: HOOKYARD_CONFIG (./hookyard.yaml), KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
REDIS_URL, LOG_LEVEL (error).`;

const PASSWORD_HELP = `Usage: hookyard password-hash < password-file
       printf '%s' 'a long passphrase' | hookyard password-hash

Reads a password on stdin (one line) and prints its scrypt hash, for the web console's
users in the config:

  console:
    users:
      - { name: ada, role: operator, passwordHash: '$scrypt$ln=17,r=8,p=1$…' }

The config holds only the hash; at least 12 characters.`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface CliDeps {
  out?: Output;
  /** The password-hash command's input (stdin by default). */
  stdin?: () => Promise<string>;
  /** Tests pass the config and context; the command loads both from the environment. */
  config?: Config;
  context?: (config: Config) => CliContext;
  console?: (config: Config) => ConsoleClient;
  /** Where ${VAR} references are resolved for validation (config apply/test). */
  env?: NodeJS.ProcessEnv;
}

export async function runCli(argv: string[], deps: CliDeps = {}): Promise<number> {
  const out = deps.out ?? stdio;
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out.line(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === 'password-hash') {
    if (rest.includes('--help') || rest.includes('-h')) {
      out.line(PASSWORD_HELP);
      return 0;
    }
    if (rest.length > 0) {
      out.note(`hookyard password-hash: unexpected argument "${rest[0]}" (the password comes on stdin, never as an argument: arguments show in ps and shell history)`);
      return 2;
    }
    const password = (await (deps.stdin ?? readStdin)()).replace(/\r?\n$/, '');
    if (password.length < 12) {
      out.note('hookyard password-hash: a console password needs at least 12 characters');
      return 2;
    }
    out.line(await hashPassword(password));
    return 0;
  }
  const spec = {
    replay: { help: REPLAY_HELP, options: REPLAY_OPTIONS },
    rewind: { help: REWIND_HELP, options: REWIND_OPTIONS },
    dlq: { help: DLQ_HELP, options: DLQ_OPTIONS },
    events: { help: EVENTS_HELP, options: EVENTS_OPTIONS },
    destination: { help: DESTINATION_HELP, options: DESTINATION_OPTIONS },
    issues: { help: ISSUES_HELP, options: ISSUES_OPTIONS },
    config: { help: CONFIG_HELP, options: CONFIG_OPTIONS },
  }[command];
  if (!spec) {
    out.note(`hookyard: unknown command "${command}" (replay, rewind, dlq, events, destination, issues, config, password-hash; hookyard --help)`);
    return 2;
  }
  let ctx: CliContext | undefined;
  try {
    let parsed: { values: Record<string, unknown>; positionals: string[] };
    try {
      parsed = parseArgs({ args: rest, options: spec.options, allowPositionals: true, strict: true }) as typeof parsed;
    } catch (err) {
      throw new UsageError((err as Error).message.split(/\. To specify|\n/)[0]!);
    }
    const { values: v, positionals } = parsed;
    if (v.help) {
      out.line(spec.help);
      return 0;
    }
    if (command !== 'dlq' && command !== 'events' && command !== 'destination' && command !== 'issues' && command !== 'config' && positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const config = deps.config ?? loadCliConfig();
    const context = () => (ctx ??= (deps.context ?? ((c) => createContext(c, runtimeEnv(), out)))(config));
    switch (command) {
      case 'replay': {
        const o = replayOptions(v, { config });
        const s = await replay(context(), o);
        out.line(o.json ? JSON.stringify(s) : formatReplay(s));
        return 0;
      }
      case 'rewind': {
        const o = rewindOptions(v, { config });
        const moves = await rewind(context(), o);
        if (o.json) out.line(JSON.stringify({ group: o.group, to: new Date(o.to).toISOString(), dryRun: o.dryRun, moves }));
        else for (const l of formatMoves(o, moves)) out.line(l);
        return 0;
      }
      case 'dlq': {
        const o = dlqOptions(positionals[0], v, { config });
        if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
        const s = await dlq(context(), o);
        if (o.action === 'list') out.note(formatDlq(o, s));
        else out.line(o.json ? JSON.stringify(s) : formatDlq(o, s));
        return 0;
      }
      case 'config':
        return await configCommand(positionals, v, { ctx: context, config, env: deps.env ?? process.env, line: (t) => out.line(t), note: (t) => out.note(t) });
      case 'issues': {
        await issues((deps.console ?? consoleClient)(config), positionals, v as { state?: string[]; kind?: string[]; all?: boolean; json?: boolean }, out);
        return 0;
      }
      case 'destination': {
        const o = destinationOptions(positionals, v, { config });
        const list = await destination(context(), o);
        if (o.json) out.line(JSON.stringify(list));
        else for (const l of formatStatus(list)) out.line(l);
        return 0;
      }
      case 'events': {
        const o = eventsOptions(positionals, v, { config });
        const client = () => (deps.console ?? consoleClient)(config);
        if (o.action === 'search') {
          await searchEvents(client(), o, out);
          return 0;
        }
        if (o.action === 'erase') {
          const r = await eraseEvent(client(), o.id);
          if (o.json) out.line(JSON.stringify(r));
          else {
            out.line(`erased ${r.erased} from the index`);
            out.note(r.kafka);
          }
          return 0;
        }
        if (o.action === 'show') {
          const { trace, why } = await traceFromIndex(client(), o.id);
          if (trace?.event) {
            // A body over console.maxBodyBytes is not kept: read that one record from Kafka
            // at the coordinates the index kept, and show the index's story with it.
            if (!trace.event.bodyStored) {
              const body = await bodyFromKafka(context(), trace.event.kafka, o.id);
              if (body === null) out.note(`the index does not keep this body, and Kafka no longer has it at ${trace.event.kafka.topic}/${trace.event.kafka.partition}@${trace.event.kafka.offset} (its retention passed)`);
              else trace.event = { ...trace.event, ...body, bodyFrom: 'kafka' };
            }
            if (o.json) out.line(JSON.stringify(trace));
            else for (const l of formatTrace(trace)) out.line(l);
            return 0;
          }
          out.note(trace ? 'the index has this event\'s deliveries but not the event: reading it from Kafka' : `not from the index (${why}): reading Kafka`);
        }
        if (o.action === 'list') {
          const s = await listEvents(context(), o);
          out.note(`${s.matched} ${o.rejected ? 'refusal' : 'event'}(s) of ${s.scanned} scanned`);
          return 0;
        }
        const shown = await showEvent(context(), o);
        if (!shown.event) {
          out.note(`event ${o.id} not found in raw-events around ${new Date(o.at).toISOString()}`);
          return 1;
        }
        if (o.json) out.line(shownJson(shown));
        else for (const l of formatShown(shown)) out.line(l);
        return 0;
      }
    }
    return 2;
  } catch (err) {
    if (err instanceof UsageError) {
      out.note(`hookyard ${command}: ${err.message}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      out.note(`hookyard ${command}: ${err.message}`);
      return 2;
    }
    if (err instanceof ConsoleUnavailable) {
      out.note(`hookyard ${command}: ${err.message}`);
      return 1;
    }
    if (err instanceof CommandFailed) {
      out.note(`hookyard ${command}: failed: ${err.message}`);
      out.note(`done before the failure: ${err.doneSoFar}`);
      return 1;
    }
    out.note(`hookyard ${command}: failed: ${(err as Error).message}`);
    return 1;
  } finally {
    await ctx?.close();
  }
}

function loadCliConfig(): Config {
  return loadConfig();
}
