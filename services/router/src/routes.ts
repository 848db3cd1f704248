// Pure routing decision: which destinations get a raw event, and with what body.
// Filters and transforms (issue #4) plug in here; the Kafka plumbing stays in app.ts.
import type { Config, Delivery, RawEvent } from '@hookyard/core';

export type RouteTable = Map<string, string[]>;

export function routeTable(config: Config): RouteTable {
  const table: RouteTable = new Map();
  for (const c of config.connections) {
    const list = table.get(c.source) ?? [];
    if (!list.includes(c.destination)) list.push(c.destination);
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

export function route(table: RouteTable, event: RawEvent): Delivery[] {
  return (table.get(event.source) ?? []).map((destination) => ({
    eventId: event.id,
    source: event.source,
    destination,
    receivedAt: event.receivedAt,
    orderingKey: event.orderingKey,
    headers: forwardedHeaders(event),
    body: event.body,
    attempt: 0,
    replayId: event.replayId,
  }));
}
