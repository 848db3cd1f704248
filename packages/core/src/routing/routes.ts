// The routing decision for one raw event: which destinations get it (filters), with what
// body and headers (transforms), and which connections fail (to dead-letters). Pure apart
// from the transforms' own evaluation; the Kafka plumbing stays in app.ts.
import type { Config } from '../config/options.ts';
import { parseStructuredBody } from '../body.ts';
import type { DeadLetter, Delivery, RawEvent, RoutingDecision } from '../envelope.ts';
import { matchesFilter, type FilterView } from './filter.ts';
import { compileTransform, TransformError, type CompiledTransform } from './transform.ts';

export interface CompiledConnection {
  source: string;
  destination: string;
  filter: Record<string, unknown> | undefined;
  transform: CompiledTransform | undefined;
}

export type RouteTable = Map<string, CompiledConnection[]>;

/** Compiled once per config load. */
export function routeTable(config: Config): RouteTable {
  const limits = { timeoutMs: config.router.transformTimeoutMs, maxResultBytes: config.router.transformMaxResultBytes };
  const table: RouteTable = new Map();
  for (const c of config.connections) {
    const list = table.get(c.source) ?? [];
    list.push({ source: c.source, destination: c.destination, filter: c.filter, transform: c.transform ? compileTransform(c.transform, limits) : undefined });
    table.set(c.source, list);
  }
  return table;
}

/** Headers that describe the body bytes travel with them; nothing else of the provider's does. */
const BODY_HEADERS = ['content-type', 'content-encoding'] as const;
function forwardedHeaders(event: RawEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of BODY_HEADERS) {
    const v = event.headers[h];
    if (v !== undefined) out[h] = v;
  }
  return out;
}

/**
 * What filters and transforms see of the body: JSON parsed, form-encoded parsed to an
 * object, other text as a string; binary and compressed bodies as undefined (only
 * headers, query and path can be matched for them).
 */
export function bodyForMatching(event: RawEvent): unknown {
  const ct = (event.headers['content-type'] ?? '').toLowerCase();
  if (event.headers['content-encoding'] && event.headers['content-encoding'] !== 'identity') return undefined;
  const parsed = parseStructuredBody(event.body, ct);
  if (parsed !== undefined) return parsed;
  // Text (and JSON that does not parse) is matched as one string.
  if (ct.startsWith('text/') || ct.includes('xml') || ct.includes('json')) return Buffer.from(event.body).toString('utf8');
  return undefined;
}

export interface RouteResult {
  deliveries: Delivery[];
  deadLetters: DeadLetter[];
  filtered: string[];
}

/** The route result as the trace records it: one line per connection of the event's source. */
export function decisionsOf(r: RouteResult): RoutingDecision['decisions'] {
  return [
    ...r.deliveries.map((d) => ({ destination: d.destination, outcome: 'matched' as const, error: null })),
    ...r.filtered.map((destination) => ({ destination, outcome: 'filtered' as const, error: null })),
    ...r.deadLetters.map((d) => ({ destination: d.destination, outcome: 'transform_error' as const, error: d.lastError })),
  ];
}

/** A delivery of the raw event as it arrived, without filters or transforms (replay --no-route). */
export function directDelivery(event: RawEvent, destination: string): Delivery {
  return {
    eventId: event.id, source: event.source, destination, receivedAt: event.receivedAt,
    orderingKey: event.orderingKey, headers: forwardedHeaders(event), body: event.body, attempt: 0, replayId: event.replayId,
  };
}

export async function route(table: RouteTable, event: RawEvent, now: () => number = Date.now): Promise<RouteResult> {
  const result: RouteResult = { deliveries: [], deadLetters: [], filtered: [] };
  const connections = table.get(event.source) ?? [];
  if (connections.length === 0) return result;
  const body = bodyForMatching(event);
  const query = Object.fromEntries(new URLSearchParams(event.query));
  const view: FilterView = { body, headers: event.headers, query, path: event.path };
  const base = forwardedHeaders(event);
  for (const c of connections) {
    if (c.filter && !matchesFilter(c.filter, view)) {
      result.filtered.push(c.destination);
      continue;
    }
    const delivery: Delivery = {
      eventId: event.id, source: event.source, destination: c.destination, receivedAt: event.receivedAt,
      orderingKey: event.orderingKey, headers: base, body: event.body, attempt: 0, replayId: event.replayId,
    };
    if (c.transform) {
      try {
        const out = await c.transform({ body, headers: event.headers, query, path: event.path, source: event.source, eventId: event.id, receivedAt: new Date(event.receivedAt).toISOString() });
        const headers: Record<string, string> = { ...base, ...out.headers };
        if (out.contentType) headers['content-type'] = out.contentType;
        delete headers['content-encoding'];
        result.deliveries.push({ ...delivery, body: out.body, headers });
      } catch (err) {
        if (!(err instanceof TransformError)) throw err;
        result.deadLetters.push({
          eventId: event.id, source: event.source, destination: c.destination, receivedAt: event.receivedAt, orderingKey: event.orderingKey,
          headers: base, body: event.body, stage: 'transform', attempts: 0, lastStatus: null, lastError: err.message, deadAt: now(), replayId: event.replayId,
        });
      }
      continue;
    }
    result.deliveries.push(delivery);
  }
  return result;
}
