// hookyard config test: the comparison core. Recorded events go through the live and the
// draft config's connections with the router's own route(), and each connection's outcomes
// are compared event by event. Nothing here touches Kafka or produces anything; the command
// feeds events in and prints the report.
import { isDeepStrictEqual } from 'node:util';
import { structuredPatch } from 'diff';
import { route, routeTable, type Config, type Delivery, type RawEvent, type RouteTable } from '@hookyard/core';
import { iso } from '../time.ts';

export interface ConnectionDiff {
  /** `source→destination`, with `#2`, `#3`… for a pair repeated in one config (by order). */
  connection: string;
  source: string;
  destination: string;
  status: 'same' | 'added' | 'removed' | 'changed';
  /** Events of this connection's source seen. */
  events: number;
  newlyMatched: number;
  noLongerMatched: number;
  outputChanged: number;
  /** In the draft. */
  transformErrors: number;
  liveTransformErrors: number;
  /** Event ids, the first of each kind. */
  examples: {
    newlyMatched?: string;
    noLongerMatched?: string;
    outputChanged?: { eventId: string; diff: string };
    transformError?: { eventId: string; error: string };
  };
}

export interface ConfigTestReport {
  from: number;
  to: number;
  events: number;
  bySource: Record<string, number>;
  connections: ConnectionDiff[];
  changed: boolean;
}

type Outcome = { kind: 'delivered'; delivery: Delivery } | { kind: 'filtered' } | { kind: 'error'; error: string };

/**
 * One route() call's worth of a source's connections. route() reports outcomes by
 * destination name only, so a pair configured twice would be indistinguishable in one
 * result: the k-th occurrence of each destination goes to lane k. With no repeated pairs
 * (the usual case) a source has one lane and each event is routed once per config.
 */
interface Lane {
  table: RouteTable;
  /** destination → connection key */
  keys: Map<string, string>;
}

interface Side {
  lanes: Map<string, Lane[]>;
  /** key → definition, in config order */
  definitions: Map<string, { source: string; destination: string; filter: unknown; transform: string | undefined }>;
}

function connectionKey(source: string, destination: string, occurrence: number): string {
  return `${source}→${destination}${occurrence > 1 ? `#${occurrence}` : ''}`;
}

function side(config: Config): Side {
  const lanes = new Map<string, Lane[]>();
  for (const [source, connections] of routeTable(config)) {
    const list: Lane[] = [];
    const seen = new Map<string, number>();
    for (const c of connections) {
      const n = (seen.get(c.destination) ?? 0) + 1;
      seen.set(c.destination, n);
      let lane = list[n - 1];
      if (!lane) {
        lane = { table: new Map([[source, []]]), keys: new Map() };
        list.push(lane);
      }
      lane.table.get(source)?.push(c);
      lane.keys.set(c.destination, connectionKey(source, c.destination, n));
    }
    lanes.set(source, list);
  }
  // routeTable keeps config order within a source, so occurrences number the same here.
  const definitions: Side['definitions'] = new Map();
  const seen = new Map<string, number>();
  for (const c of config.connections) {
    const pair = `${c.source}\u0000${c.destination}`;
    const n = (seen.get(pair) ?? 0) + 1;
    seen.set(pair, n);
    definitions.set(connectionKey(c.source, c.destination, n), { source: c.source, destination: c.destination, filter: c.filter, transform: c.transform });
  }
  return { lanes, definitions };
}

async function outcomes(s: Side, event: RawEvent): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  for (const lane of s.lanes.get(event.source) ?? []) {
    const r = await route(lane.table, event);
    const key = (destination: string) => lane.keys.get(destination) ?? connectionKey(event.source, destination, 1);
    for (const d of r.deliveries) out.set(key(d.destination), { kind: 'delivered', delivery: d });
    for (const d of r.filtered) out.set(key(d), { kind: 'filtered' });
    for (const d of r.deadLetters) out.set(key(d.destination), { kind: 'error', error: d.lastError });
  }
  return out;
}

function sameHeaders(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

export class RoutingComparison {
  private readonly live: Side;
  private readonly draft: Side;
  private readonly stats = new Map<string, ConnectionDiff>();
  /** source → its connections (of either config) with their keys */
  private readonly ofSource = new Map<string, [string, ConnectionDiff][]>();
  private readonly bySource: Record<string, number> = {};
  private events = 0;

  constructor(live: Config, draft: Config) {
    this.live = side(live);
    this.draft = side(draft);
    // Live order first, then what the draft adds, so a report reads like the live file.
    const keys = [...this.live.definitions.keys(), ...[...this.draft.definitions.keys()].filter((k) => !this.live.definitions.has(k))];
    for (const key of keys) {
      const l = this.live.definitions.get(key);
      const d = this.draft.definitions.get(key);
      const def = (l ?? d)!;
      const status: ConnectionDiff['status'] = !l ? 'added' : !d ? 'removed'
        : isDeepStrictEqual(l.filter, d.filter) && l.transform === d.transform ? 'same' : 'changed';
      const diff: ConnectionDiff = {
        connection: key, source: def.source, destination: def.destination, status, events: 0,
        newlyMatched: 0, noLongerMatched: 0, outputChanged: 0, transformErrors: 0, liveTransformErrors: 0, examples: {},
      };
      this.stats.set(key, diff);
      const list = this.ofSource.get(def.source) ?? [];
      list.push([key, diff]);
      this.ofSource.set(def.source, list);
    }
  }

  /** Await each call before the next: examples are the first events added, not the first to finish. */
  async add(event: RawEvent): Promise<void> {
    const [live, draft] = await Promise.all([outcomes(this.live, event), outcomes(this.draft, event)]);
    this.events++;
    this.bySource[event.source] = (this.bySource[event.source] ?? 0) + 1;
    for (const [key, c] of this.ofSource.get(event.source) ?? []) {
      c.events++;
      const l = live.get(key);
      const d = draft.get(key);
      if (l?.kind === 'error') c.liveTransformErrors++;
      if (d?.kind === 'error') {
        c.transformErrors++;
        c.examples.transformError ??= { eventId: event.id, error: d.error };
      }
      const ld = l?.kind === 'delivered' ? l.delivery : undefined;
      const dd = d?.kind === 'delivered' ? d.delivery : undefined;
      if (dd && !ld) {
        c.newlyMatched++;
        c.examples.newlyMatched ??= event.id;
      } else if (ld && !dd) {
        c.noLongerMatched++;
        c.examples.noLongerMatched ??= event.id;
      } else if (ld && dd && (!ld.body.equals(dd.body) || !sameHeaders(ld.headers, dd.headers))) {
        c.outputChanged++;
        c.examples.outputChanged ??= { eventId: event.id, diff: deliveryDiff(ld, dd).join('\n') };
      }
    }
  }

  report(from: number, to: number): ConfigTestReport {
    const connections = [...this.stats.values()].map((c) => ({ ...c, examples: { ...c.examples } }));
    return { from, to, events: this.events, bySource: { ...this.bySource }, connections, changed: connections.some(wouldChange) };
  }
}

function wouldChange(c: ConnectionDiff): boolean {
  return c.status === 'added' || c.status === 'removed' || c.newlyMatched > 0 || c.noLongerMatched > 0 || c.outputChanged > 0 || c.transformErrors > c.liveTransformErrors;
}

function hasCounts(c: ConnectionDiff): boolean {
  return c.newlyMatched > 0 || c.noLongerMatched > 0 || c.outputChanged > 0 || c.transformErrors > 0 || c.liveTransformErrors > 0;
}

export function formatConfigTest(r: ConfigTestReport): string[] {
  const sources = Object.entries(r.bySource).map(([s, n]) => `${s} ${n}`).join(', ');
  const lines = [`config test [${iso(r.from)}, ${iso(r.to)}): ${r.events} event(s)${sources ? ` (${sources})` : ''}`];
  const shown = r.connections.filter((c) => c.status !== 'same' || hasCounts(c));
  const name = (c: ConnectionDiff) => c.connection;
  const width = Math.max(0, ...shown.map((c) => name(c).length));
  for (const c of shown) {
    const errors = `${c.transformErrors} transform error(s)${c.liveTransformErrors > 0 ? ` (live ${c.liveTransformErrors})` : ''}`;
    lines.push(`${name(c).padEnd(width)}   ${c.status.padEnd(7)}   ${c.newlyMatched} newly matched, ${c.noLongerMatched} no longer matched, ${c.outputChanged} output changed, ${errors} (of ${c.events} events)`);
    const e = c.examples;
    if (e.newlyMatched) lines.push(`  newly matched: ${e.newlyMatched}`);
    if (e.noLongerMatched) lines.push(`  no longer matched: ${e.noLongerMatched}`);
    if (e.transformError) lines.push(`  transform error: ${e.transformError.eventId}: ${e.transformError.error}`);
    if (e.outputChanged) {
      lines.push(`  output changed: ${e.outputChanged.eventId}`);
      for (const l of e.outputChanged.diff.split('\n')) lines.push(`    ${l}`);
    }
  }
  const unchanged = r.connections.length - shown.length;
  if (unchanged > 0) lines.push(`${unchanged} connection(s) unchanged`);
  const changing = r.connections.filter(wouldChange).length;
  lines.push(changing === 0 ? 'no change' : `${changing} connection(s) would change`);
  return lines;
}

// ---- the example diff ----

const MAX_LINES = 200; // per side, before diffing: an example, and diffing is superlinear
const MAX_DIFF_LINES = 60; // of output: an example, not the whole payload
const MAX_LINE_CHARS = 200; // a one-line minified or text body would otherwise fill the terminal

function render(d: Delivery, parseBody: boolean): string[] {
  const text = d.body.toString('utf8');
  let body: unknown = text;
  if (parseBody) {
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: shown as text
    }
  }
  const headers = Object.fromEntries(Object.entries(d.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify({ headers, body }, null, 2).split('\n');
}

function deliveryDiff(live: Delivery, draft: Delivery): string[] {
  let a = render(live, true);
  let b = render(draft, true);
  // Different bytes, same JSON (key order, whitespace): show the bytes' difference instead.
  if (isDeepStrictEqual(a, b)) {
    a = render(live, false);
    b = render(draft, false);
  }
  const out = ['--- live', '+++ draft', ...lineDiff(a.slice(0, MAX_LINES), b.slice(0, MAX_LINES))];
  if (a.length > MAX_LINES || b.length > MAX_LINES) out.push(`… compared the first ${MAX_LINES} lines only`);
  const clipped = out.slice(0, MAX_DIFF_LINES).map((l) => (l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)}…` : l));
  if (out.length > MAX_DIFF_LINES) clipped.push(`… ${out.length - MAX_DIFF_LINES} more line(s)`);
  return clipped;
}

/** Unified hunks (jsdiff) with `context` unchanged lines around each change. */
function lineDiff(a: string[], b: string[], context = 2): string[] {
  const patch = structuredPatch('live', 'draft', `${a.join('\n')}\n`, `${b.join('\n')}\n`, '', '', { context });
  return patch.hunks.flatMap((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines]);
}
