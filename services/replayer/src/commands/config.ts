// hookyard config test | apply | history | show | diff | rollback: change routing without
// a restart. A version is the config text as written (secrets stay ${VAR} references) in
// the compacted config-versions topic; every service follows it (packages/core/src/config/versions.ts).
import { readFileSync } from 'node:fs';
import { createTwoFilesPatch } from 'diff';
import { parseDocument } from 'yaml';
import {
  ConfigVersionLog, FILE_SECTIONS, configHash, defaultAuthor, parseConfig, runningVersion,
  type Config, type ConfigVersion, type RawEvent,
} from '@hookyard/core';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { progress } from '../progress.ts';
import { planScan, rangeSize, scan } from '../scan.ts';
import { iso, parseWindow } from '../time.ts';
import { RoutingComparison, formatConfigTest, type ConfigTestReport } from './config-test.ts';

export const CONFIG_HELP = `Usage: hookyard config test <draft.yaml> --from <time> [--to <time>] [--source S] [--json] [--fail-on-change]
       hookyard config apply <file.yaml> [--message "…"] [--by NAME] [--dry-run] [--json]
       hookyard config history [--json]
       hookyard config show [<version>]
       hookyard config diff <a> <b>
       hookyard config rollback <version> [--message "…"] [--by NAME]

test      run the draft's connections (filters and transforms, with the router's own
          code) over the events received in the window, in this process, and print what
          would change against the live config: per connection, events newly matched, no
          longer matched, with a changed transform output (one example diffed), transform
          errors. Writes nothing. --fail-on-change exits 1 when anything would change (CI).
apply     validate (the same errors by path as at start-up) and store a new version:
          every running ingress, router and deliverer switches to it without a restart —
          the router between transactions, the deliverer at the next attempt, ingress at
          the next request. Secrets should be \${VAR} references: the text is stored as written
          and each service resolves them from its own environment.
history   every applied version: number, time, who, hash, message.
show      a version's text (default: the newest).
diff      the difference between two versions; each of <a> <b> is a version (7 or v7),
          "current", or a file.
rollback  apply an earlier version's text again, as a new version.

Which config runs: with no version applied, each service runs its file (HOOKYARD_CONFIG).
Once one is applied, services run the newest version — at start too — for sources,
destinations, connections, alerts, router and ingress; kafka, deliverer, console and
versioning always come from each service's file. \`versioning: { follow: false }\` in a
service's file makes it ignore applied versions (deploy by restart).

Options:
  --from, --to <time>  the window of received events (test): ISO 8601, or 90m, 2h, 3d ago
  --source <name>      only this source's events (test; repeatable)
  --fail-on-change     exit 1 when the draft would change anything (test)
  --message <text>     why, kept with the version (apply, rollback)
  --by <name>          who applies (default: $HOOKYARD_APPLIED_BY, $GITHUB_ACTOR or $USER)
  --dry-run            validate and show the difference; store nothing (apply)
  --json               JSON on stdout
  --help               this text

Examples:
  hookyard config test drafts/hookyard.yaml --from 24h --fail-on-change
  hookyard config apply hookyard.yaml --message "route refunds to billing"
  hookyard config diff 6 current
  hookyard config rollback 6`;

export const CONFIG_OPTIONS = {
  from: { type: 'string' }, to: { type: 'string' }, source: { type: 'string', multiple: true },
  json: { type: 'boolean' }, 'fail-on-change': { type: 'boolean' }, message: { type: 'string' }, by: { type: 'string' },
  'dry-run': { type: 'boolean' }, help: { type: 'boolean' },
} as const;

type Values = { [K in keyof typeof CONFIG_OPTIONS]?: unknown };

export interface ConfigDeps {
  ctx: () => CliContext;
  /** The config this CLI loaded (its file): kafka settings, and the live config when no version was applied. */
  config: Config;
  env: NodeJS.ProcessEnv;
  line: (text: string) => void;
  note: (text: string) => void;
}

/** Fields whose values are secrets: written literally, they end up in the topic as text. */
const SECRET_KEYS = new Set(['secret', 'signingSecret', 'token', 'password', 'authToken', 'key', 'routingKey', 'value', 'passwordHash', 'sessionKey']);

export function literalSecrets(text: string): string[] {
  const found: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) node.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        const at = path ? `${path}.${k}` : k;
        const values = Array.isArray(v) ? v : [v];
        if (SECRET_KEYS.has(k) && values.some((x) => typeof x === 'string' && x !== '' && !/^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/.test(x))) found.push(at);
        else walk(v, at);
      }
    }
  };
  walk(parseDocument(text).toJS(), '');
  return found;
}

/**
 * Validates a version's text as the services will: every problem by path. A ${VAR} this
 * shell does not have is not a problem here (the services resolve it); it is listed.
 */
export function validateText(text: string, file: string, env: NodeJS.ProcessEnv): { config: Config; unresolved: string[] } {
  const { env: lenient, unresolved } = lenientEnv(text, env);
  return { config: parseConfig(text, lenient, file), unresolved };
}

/**
 * The environment with a placeholder for each `${NAME}` (without a `:-default`) that it
 * lacks: a version is validated here and resolved by each service from its own environment.
 */
function lenientEnv(text: string, env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; unresolved: string[] } {
  const unresolved = [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))].filter((k) => env[k] === undefined);
  return { env: { ...env, ...Object.fromEntries(unresolved.map((k) => [k, `unresolved-${k.toLowerCase()}-placeholder-value`])) }, unresolved };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function versionNumber(ref: string): number | null {
  const m = /^v?(\d+)$/.exec(ref);
  return m ? Number(m[1]) : null;
}

/** A unified diff without jsdiff's banner lines; empty when the texts are the same. */
function unified(aName: string, aText: string, bName: string, bText: string): string[] {
  const lines = createTwoFilesPatch(aName, bName, aText, bText, undefined, undefined, { context: 3 }).split('\n').filter((l) => !/^(Index: |={10,}$)/.test(l));
  while (lines.at(-1) === '') lines.pop();
  return lines.some((l) => l.startsWith('@@')) ? lines : [];
}

function describe(v: ConfigVersion): string {
  return `v${v.version}  ${iso(v.appliedAt)}  by ${v.appliedBy}  sha ${v.hash.slice(0, 12)}${v.rollbackOf !== null ? `  (rollback to v${v.rollbackOf})` : ''}${v.message ? `  ${JSON.stringify(v.message)}` : ''}`;
}

export async function configCommand(positionals: string[], v: Values, deps: ConfigDeps): Promise<number> {
  const [action, ...args] = positionals;
  const json = v.json === true;
  const log = () => new ConfigVersionLog(deps.ctx().kafka, deps.config.kafka, deps.ctx().topics.configVersions);
  const versions = async () => log().list(await deps.ctx().admin());
  const textOf = async (ref: string, list?: ConfigVersion[]): Promise<{ name: string; text: string }> => {
    const all = list ?? await versions();
    if (ref === 'current') {
      const last = all.at(-1);
      if (!last) throw new UsageError('no version has been applied yet (services run their files)');
      return { name: `v${last.version}`, text: last.text };
    }
    const n = versionNumber(ref);
    if (n !== null) {
      const found = all.find((x) => x.version === n);
      if (!found) throw new UsageError(`no version ${ref} (applied: ${all.map((x) => `v${x.version}`).join(', ') || 'none'})`);
      return { name: `v${n}`, text: found.text };
    }
    return { name: ref, text: readText(ref) };
  };
  const only = (n: number) => {
    if (args.length !== n) throw new UsageError(args.length > n ? `unexpected argument "${args[n]}"` : `config ${action}: missing argument (hookyard config --help)`);
  };

  switch (action) {
    case 'apply':
    case 'rollback': {
      only(1);
      const all = await versions();
      let text: string;
      let rollbackOf: number | null = null;
      let name: string;
      if (action === 'rollback') {
        const n = versionNumber(args[0]!);
        if (n === null) throw new UsageError(`config rollback: a version such as 6 or v6, not "${args[0]}"`);
        ({ text, name } = await textOf(String(n), all));
        rollbackOf = n;
      } else {
        name = args[0]!;
        text = readText(name);
      }
      const { config, unresolved } = validateText(text, name, deps.env);
      for (const k of unresolved) deps.note(`note: \${${k}} is not set in this shell; every service that runs this version must have it`);
      for (const p of literalSecrets(text)) deps.note(`warning: ${p} is written as a literal secret; it is stored as text in the config-versions topic (use a \${VAR} reference)`);
      const infra = FILE_SECTIONS.filter((s) => JSON.stringify(config[s]) !== JSON.stringify(deps.config[s]));
      if (infra.length > 0) deps.note(`note: ${infra.join(', ')} differ from this shell's config file; they are not versioned (each service keeps its file's)`);
      const current = all.at(-1);
      if (current && current.hash === configHash(text)) {
        if (json) deps.line(JSON.stringify({ applied: false, version: current.version, reason: 'already current' }));
        else deps.line(`already current: v${current.version} has this text; nothing applied`);
        return 0;
      }
      if (v['dry-run'] === true) {
        const patch = unified(current ? `v${current.version}` : '(none applied)', current?.text ?? '', name, text);
        if (json) deps.line(JSON.stringify({ applied: false, dryRun: true, next: (current?.version ?? 0) + 1, diff: patch.join('\n') }));
        else {
          deps.note(`valid; would be v${(current?.version ?? 0) + 1} (dry run: nothing stored)`);
          for (const l of patch) deps.line(l);
        }
        return 0;
      }
      const applied = await log().append(await deps.ctx().admin(), {
        text, appliedBy: typeof v.by === 'string' ? v.by : defaultAuthor(deps.env), message: typeof v.message === 'string' ? v.message : '', rollbackOf,
      });
      if (json) deps.line(JSON.stringify({ applied: true, version: applied.version, hash: applied.hash, appliedBy: applied.appliedBy, appliedAt: iso(applied.appliedAt), rollbackOf }));
      else deps.line(`applied ${describe(applied)}`);
      return 0;
    }
    case 'history': {
      only(0);
      const all = await versions();
      if (json) deps.line(JSON.stringify(all.map(({ text: _t, ...rest }) => ({ ...rest, appliedAt: iso(rest.appliedAt) }))));
      else if (all.length === 0) deps.note('no version applied: each service runs its config file');
      else for (const x of [...all].reverse()) deps.line(describe(x));
      return 0;
    }
    case 'show': {
      if (args.length > 1) throw new UsageError(`unexpected argument "${args[1]}"`);
      const { text } = await textOf(args[0] ?? 'current');
      deps.line(text.replace(/\n$/, ''));
      return 0;
    }
    case 'diff': {
      only(2);
      const all = await versions();
      const a = await textOf(args[0]!, all);
      const b = await textOf(args[1]!, all);
      const body = unified(a.name, a.text, b.name, b.text);
      if (body.length === 0) deps.note(`${a.name} and ${b.name} are the same`);
      for (const l of body) deps.line(l);
      return 0;
    }
    case 'test': {
      only(1);
      const draftText = readText(args[0]!);
      const { config: draft, unresolved } = validateText(draftText, args[0]!, deps.env);
      if (unresolved.length > 0) deps.note(`note: ${unresolved.map((k) => `\${${k}}`).join(', ')} not set here; secrets do not affect routing`);
      const window = parseWindow(v.from as string | undefined, v.to as string | undefined, { required: true });
      const sources = (v.source as string[] | undefined) ?? [];
      for (const s of sources) if (!draft.sources.some((x) => x.name === s) && !deps.config.sources.some((x) => x.name === s)) throw new UsageError(`unknown source "${s}"`);
      const current = (await versions()).at(-1);
      const live = current ? runningVersion(deps.config, current, lenientEnv(current.text, deps.env).env).config : deps.config;
      const report = await testDraft(deps.ctx(), live, draft, { ...window, sources, json }, deps.note);
      deps.note(`live config: ${current ? `v${current.version}` : 'the config file (no version applied)'}`);
      if (json) deps.line(JSON.stringify(report));
      else for (const l of formatConfigTest(report)) deps.line(l);
      return v['fail-on-change'] === true && report.changed ? 1 : 0;
    }
    default:
      throw new UsageError(`config: expected test, apply, history, show, diff or rollback${action ? `, not "${action}"` : ''}`);
  }
}

/** Reads raw-events in the window and routes each event by both configs; produces nothing. */
async function testDraft(ctx: CliContext, live: Config, draft: Config, o: { from: number; to: number; sources: string[]; json: boolean }, note: (t: string) => void): Promise<ConfigTestReport> {
  const admin = await ctx.admin();
  const ranges = await planScan(admin, ctx.topics.rawEvents, o.from, o.to, 60_000);
  const comparison = new RoutingComparison(live, draft);
  const bar = progress('config test', !o.json);
  bar.start(rangeSize(ranges));
  try {
    await scan(ctx.kafka, ctx.topics.rawEvents, ranges, async (_p, messages) => {
      for (const m of messages) {
        if (!m.value) continue;
        let event: RawEvent;
        try {
          event = await ctx.codec.decode<RawEvent>(m.value);
        } catch {
          continue; // undecodable: the router dead-letters it whatever the config
        }
        if (event.receivedAt < o.from || event.receivedAt >= o.to) continue;
        if (o.sources.length > 0 && !o.sources.includes(event.source)) continue;
        await comparison.add(event);
      }
    }, (n) => bar.increment(n));
  } finally {
    bar.stop();
  }
  const report = comparison.report(o.from, o.to);
  if (report.events === 0) note('no events received in this window: nothing to compare');
  return report;
}

