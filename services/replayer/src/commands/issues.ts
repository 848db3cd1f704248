// hookyard issues list|show|ack|resolve|ignore: failures grouped into issues, through the
// console's API (the console groups them as it indexes).
import type { ConsoleClient } from '../console-client.ts';
import type { Output } from '../context.ts';
import { CommandFailed, UsageError } from '../errors.ts';

export const ISSUES_HELP = `Usage: hookyard issues list [--state open|acknowledged|resolved|ignored] [--kind K] [--all] [--json]
       hookyard issues show <issue id> [--json]
       hookyard issues ack|resolve|ignore|reopen <issue id> [--json]

Failures grouped into issues by the console: delivery (destination × HTTP status or error
class), transform (connection × error), refusal (source × reason, above
console.issues.refusalsPerMinute), backpressure (a destination's oldest pending older than
console.issues.backlogAgeSeconds), receipts (deliveries past their receipt SLA, or
receipts saying failed), dead_letters (above console.issues.deadLettersPerHour), breaker
(open), paused (by the deliverer, on a 410) and ingress (answering 503) — all but transform
resolve by themselves once that ends (README, "Issues").
A resolved issue reopens when the failure recurs; an ignored one does not.

list     open and acknowledged issues unless --state says otherwise, most recently seen first
show     one issue: counts, first and last seen, a sample, the events it affected
ack …    change its state (recorded in the console's audit log with the API token's name)

Environment: HOOKYARD_CONSOLE_URL (http://127.0.0.1:8090), HOOKYARD_API_TOKEN.`;

export const ISSUES_OPTIONS = { state: { type: 'string', multiple: true }, kind: { type: 'string', multiple: true }, all: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' } } as const;

interface Issue { id: string; kind: string; title: string; state: string; count: number; events: number; firstSeen: string; lastSeen: string; sample: string; sampleEventId: string | null; reopened: number; stateBy: string | null }

const line = (i: Issue) => `${i.id}  ${i.state.padEnd(12)}  ${String(i.count).padStart(6)}×  ${i.lastSeen}  ${i.title}`;

function answer(r: { status: number; body: unknown }): unknown {
  if (r.status === 400) {
    const e = (r.body as { error?: { message?: string } }).error;
    throw new UsageError(e?.message ?? 'the console refused the request');
  }
  if (r.status === 404) throw new UsageError((r.body as { error?: { message?: string } }).error?.message ?? 'no such issue');
  if (r.status >= 300) throw new CommandFailed(new Error(`the console answered ${r.status}`), '');
  return r.body;
}

export async function issues(client: ConsoleClient, positionals: string[], v: { state?: string[]; kind?: string[]; all?: boolean; json?: boolean }, out: Output): Promise<void> {
  const [action, id, extra] = positionals;
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (action === 'list' || action === undefined) {
    if (id !== undefined) throw new UsageError(`unexpected argument "${id}"`);
    const params = new URLSearchParams();
    for (const s of v.state ?? ['open', 'acknowledged']) params.append('state', s);
    for (const k of v.kind ?? []) params.append('kind', k);
    let n = 0;
    for (;;) {
      const page = answer(await client.get('/api/v1/issues', params)) as { items: Issue[]; next: string | null };
      for (const i of page.items) out.line(v.json ? JSON.stringify(i) : line(i));
      n += page.items.length;
      if (!page.next || !v.all) break;
      params.set('cursor', page.next);
    }
    if (!v.json) out.note(`${n} issue(s)`);
    return;
  }
  if (!id) throw new UsageError(`issues ${action}: give an issue id (hookyard issues list shows them)`);
  if (action === 'show') {
    const i = answer(await client.get(`/api/v1/issues/${encodeURIComponent(id)}`)) as Issue & { events: string[]; eventCount?: number };
    if (v.json) { out.line(JSON.stringify(i)); return; }
    out.line(`${i.title}`);
    out.line(`  ${i.kind} issue ${i.id}: ${i.state}${i.stateBy ? ` (by ${i.stateBy})` : ''}${i.reopened ? `, reopened ${i.reopened}×` : ''}`);
    out.line(`  seen ${i.count}× from ${i.firstSeen} to ${i.lastSeen}`);
    if (i.sample) out.line(`  sample: ${i.sample}`);
    if (i.events.length) out.line(`  events: ${i.events.join(' ')}`);
    return;
  }
  const verbs = ['ack', 'resolve', 'ignore', 'reopen'];
  if (!verbs.includes(action)) throw new UsageError(`issues: expected list, show, ${verbs.join(', ')}; not "${action}"`);
  const i = answer(await client.post(`/api/v1/issues/${encodeURIComponent(id)}/${action}`)) as Issue;
  out.line(v.json ? JSON.stringify(i) : line(i));
}
