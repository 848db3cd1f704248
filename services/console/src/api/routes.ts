// /api/v1: the event history's query API (docs/api.md). Every route needs a token; every
// answer says how fresh the index is.
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IndexFreshness } from '../freshness.ts';
import type { Hold, LiveDestinations } from '../live.ts';
import type { DeliverySummary, IndexStore, IssueRow, Trace } from '../store/driver.ts';
import type { TokenCheck } from './auth.ts';
import { BadQuery, parseCountsQuery, parseEventId, parseEventQuery, parseIssueId, parseIssueQuery, parseRejectionQuery, type Params } from './query.ts';

export interface ApiDeps {
  /** The open store (throws a 503 error while it is not). */
  store: () => IndexStore;
  live: LiveDestinations;
  freshness: () => IndexFreshness;
  check: TokenCheck;
}

/** A delivery as the API shows it: pending or retrying to a held destination is "held". */
function shown<T extends DeliverySummary>(d: T, holds: Map<string, Hold>): T & { state: string; storedState: string; hold?: Hold } {
  const hold = holds.get(d.destination);
  if (hold && (d.state === 'pending' || d.state === 'retrying')) return { ...d, state: 'held', storedState: d.state, hold };
  return { ...d, storedState: d.state };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function issueJson(i: IssueRow) {
  return { ...i, firstSeen: iso(i.firstSeen), lastSeen: iso(i.lastSeen), stateAt: iso(i.stateAt) };
}

function traceJson(t: Trace, holds: Map<string, Hold>) {
  const e = t.event;
  return {
    event: e && {
      id: e.id, source: e.source, receivedAt: iso(e.receivedAt), method: e.method, path: e.path, query: e.query, headers: e.headers,
      body: e.body === null ? null : e.body.toString(isUtf8(e.body) ? 'utf8' : 'base64'), bodyEncoding: e.body === null ? null : isUtf8(e.body) ? 'utf8' : 'base64',
      bodySize: e.bodySize, bodyStored: e.body !== null, kafka: e.kafka, orderingKey: e.orderingKey, eventType: e.eventType, webhookId: e.webhookId, replayId: e.replayId,
    },
    decisions: t.decisions.map((d) => ({ destination: d.destination, outcome: d.outcome, error: d.error, at: iso(d.at), replayId: d.replayId, configVersion: d.configVersion })),
    deliveries: t.deliveries.map((d) => ({ ...shown(d, holds), lastAt: iso(d.lastAt), nextAttemptAt: iso(d.nextAttemptAt), receiptAt: iso(d.receiptAt) })),
    attempts: t.attempts.map((a) => ({ ...a, at: iso(a.at), nextAttemptAt: iso(a.nextAttemptAt), requestHeaders: a.requestHeaders ?? null })),
    deadLetters: t.deadLetters.map((d) => ({ ...d, receivedAt: iso(d.receivedAt), deadAt: iso(d.deadAt) })),
  };
}


/** A page of search results as the API (and the web console) shows it. */
export async function searchView(deps: Pick<ApiDeps, 'store' | 'live' | 'freshness'>, params: Params) {
  const { query, state } = parseEventQuery(params);
  const holds = await deps.live.holds();
  if (state === 'held') {
    const held = [...holds.keys()].filter((d) => query.destinations === undefined || query.destinations.includes(d));
    if (held.length === 0) return { items: [], next: null, index: deps.freshness() };
    query.destinations = held;
    query.states = ['pending', 'retrying'];
  }
  const page = await deps.store().searchEvents(query);
  return {
    items: page.items.map((i) => ({ ...i, receivedAt: iso(i.receivedAt), deliveries: i.deliveries.map((d) => shown(d, holds)) })),
    next: page.next,
    index: deps.freshness(),
  };
}

/** One event's trace as the API shows it; null when the index does not have it. */
export async function traceView(deps: Pick<ApiDeps, 'store' | 'live'>, id: string) {
  const t = await deps.store().trace(id);
  return t === null ? null : traceJson(t, await deps.live.holds());
}

export function apiRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { live, check } = deps;
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.startsWith('/api/')) return;
    // A token, or for reads a logged-in browser (its session cookie; actions need the token:
    // the API has no CSRF token, so a cookie alone must never change anything).
    const who = check(req.headers.authorization) ?? (req.method === 'GET' || req.method === 'HEAD' ? req.user?.name : undefined);
    (req as FastifyRequest & { apiUser?: string }).apiUser = who;
    if (who === undefined) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="hookyard"').send({ error: { code: 'unauthorized', message: 'an API token is required: Authorization: Bearer <token> (console.apiTokens)' } });
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof BadQuery) return reply.code(400).send({ error: { code: err.code, param: err.param, message: err.message } });
    if (err.statusCode !== undefined && err.statusCode < 500) return reply.code(err.statusCode).send({ error: { code: 'bad_request', message: err.message } });
    app.log.error({ err: err.message }, 'API request failed');
    return reply.code(500).send({ error: { code: 'internal', message: 'the index could not answer; see the console log' } });
  });

  app.get('/api/v1/events', async (req) => searchView(deps, req.query as Params));

  app.get('/api/v1/events/:id', async (req, reply) => {
    const id = parseEventId((req.params as { id: string }).id);
    const t = await traceView(deps, id);
    const index = deps.freshness();
    if (t === null) {
      const behind = index.totalLag === null || index.totalLag > 0;
      return reply.code(404).send({ error: { code: 'not_found', message: behind ? `event ${id} is not in the index; the index is ${index.totalLag ?? 'an unknown number of'} records behind Kafka, so it may not be indexed yet` : `event ${id} is not in the index (the index is up to date)` }, index });
    }
    return { ...t, index };
  });

  app.delete('/api/v1/events/:id', async (req, reply) => {
    const id = parseEventId((req.params as { id: string }).id);
    const erased = await deps.store().erase(id);
    if (!erased) return reply.code(404).send({ error: { code: 'not_found', message: `event ${id} is not in the index` } });
    return {
      erased: id,
      kafka: 'the event is still in Kafka (raw-events, its deliveries, attempts and dead letters) until the topics\' own retention removes it; a replay of its time window would bring it back into the index',
    };
  });

  app.get('/api/v1/stats', async (req) => {
    const q = parseCountsQuery(req.query as Params);
    const c = await deps.store().counts(q);
    return { from: iso(q.from), to: iso(q.to), bucketMs: q.bucketMs, ...c, index: deps.freshness() };
  });

  app.get('/api/v1/rejections', async (req) => {
    const page = await deps.store().rejections(parseRejectionQuery(req.query as Params));
    return { items: page.items.map((r) => ({ ...r, receivedAt: iso(r.receivedAt) })), next: page.next, index: deps.freshness() };
  });

  app.get('/api/v1/index', async () => ({ ...(await deps.store().stats()), index: deps.freshness() }));

  app.get('/api/v1/issues', async (req) => {
    const page = await deps.store().issues(parseIssueQuery(req.query as Params));
    return { items: page.items.map(issueJson), next: page.next, index: deps.freshness() };
  });

  app.get('/api/v1/issues/:id', async (req, reply) => {
    const id = parseIssueId((req.params as { id: string }).id);
    const issue = await deps.store().issue(id);
    if (!issue) return reply.code(404).send({ error: { code: 'not_found', message: `there is no issue ${id}` } });
    return { ...issueJson(issue), events: await deps.store().issueEvents(id, 50), index: deps.freshness() };
  });

  for (const [verb, state] of [['ack', 'acknowledged'], ['resolve', 'resolved'], ['ignore', 'ignored'], ['reopen', 'open']] as const) {
    app.post(`/api/v1/issues/:id/${verb}`, async (req, reply) => {
      const id = parseIssueId((req.params as { id: string }).id);
      const by = (req as FastifyRequest & { apiUser?: string }).apiUser ?? 'api';
      const issue = await deps.store().setIssueState(id, state, `token:${by}`, Date.now());
      if (!issue) return reply.code(404).send({ error: { code: 'not_found', message: `there is no issue ${id}` } });
      await deps.store().recordAudit({ at: Date.now(), user: `token:${by}`, role: 'api', action: `issue.${verb}`, target: `${issue.id} ${issue.title}`, detail: { state } });
      return issueJson(issue);
    });
  }
}
