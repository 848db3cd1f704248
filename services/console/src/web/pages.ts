// The console's pages and actions. Reads go through the same functions as the query API
// (api/routes.ts) and the same parameter checks (api/query.ts); actions through
// operations.ts (the CLI's code); every action is written to the audit log when it succeeds,
// and when it fails or is refused for the role (the onError hook).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { eventIdTime, type Config } from '@hookyard/core';
import { searchView, traceView, type ApiDeps } from '../api/routes.ts';
import { BadQuery, parseEventId, parseEventQuery, parseIssueId, parseTime, type Params } from '../api/query.ts';
import { ISSUE_STATES, type AuditEntry, type IssueState, type RejectionRow } from '../store/driver.ts';
import { chartWindow, destinationCharts, embedJson, endToEndCharts, errorRates, receivedBySource, refusalsByReason, throughput } from './charts.ts';
import type { Job, Operations } from './operations.ts';
import { operatorOnly } from './plugin.ts';

export interface PageDeps extends Pick<ApiDeps, 'store' | 'live' | 'freshness'> {
  config: Config;
  ops: Operations;
}

const FILTERS = ['from', 'to', 'source', 'destination', 'state', 'receipt', 'eventType', 'status', 'orderingKey', 'eventId', 'webhookId', 'replayId', 'q', 'match', 'cursor', 'limit'] as const;

/** The filters a form sent, without its empty fields (a form sends every field). */
function filters(query: unknown): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, string | string[]>)) {
    if (!(FILTERS as readonly string[]).includes(k)) continue;
    const list = (Array.isArray(v) ? v : [v]).filter((x) => x.trim() !== '');
    if (list.length > 0) out[k] = list.length === 1 ? list[0] : list;
  }
  return out;
}

/**
 * The search filters a bulk action narrows its selection by, beyond destination, source and
 * window: the same fields as the events page (a link from a search carries them over).
 */
const NARROWING = ['q', 'match', 'eventType', 'status', 'orderingKey', 'eventId', 'webhookId', 'replayId', 'receipt'] as const;

const qs = (p: Params) => new URLSearchParams(Object.entries(p).flatMap(([k, v]): [string, string][] => (Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : v === undefined ? [] : [[k, v]]))).toString();

export function pages(app: FastifyInstance, deps: PageDeps): void {
  const { config, ops } = deps;
  const names = { sources: config.sources.map((s) => s.name), destinations: config.destinations.map((d) => d.name) };
  const audit = async (req: FastifyRequest, e: Omit<AuditEntry, 'at' | 'user' | 'role'>) => {
    await deps.store().recordAudit({ ...e, at: Date.now(), user: req.user!.name, role: req.user!.role });
    req.log.info({ user: req.user!.name, action: e.action, target: e.target }, 'console action');
  };
  const destinationName = (name: string) => {
    if (!names.destinations.includes(name)) throw Object.assign(new Error(`There is no destination "${name}".`), { statusCode: 404 });
    return name;
  };

  // An action that fails (a bad form, a 404, Kafka unreachable) or is refused for the role is
  // audited too: who tried what, and why it did not happen.
  app.addHook('onError', async (req, _reply, err: Error & { statusCode?: number }) => {
    const action = req.routeOptions.config?.action;
    if (!action || !req.user) return;
    const status = err.statusCode ?? 500;
    const name = action.replace(':kind', String((req.params as { kind?: string }).kind ?? '').slice(0, 40));
    await audit(req, { action: `${name} ${status === 403 ? 'denied' : 'failed'}`, target: req.url.split('?')[0]!.slice(0, 300), detail: { status, error: err.message.slice(0, 500) } })
      .catch((e: unknown) => req.log.error({ err: (e as Error).message }, 'could not audit a failed action'));
  });

  app.get('/', async (req, reply) => {
    const w = chartWindow((req.query as { window?: string }).window);
    const [counts, attempts, latency, refused] = await Promise.all([deps.store().counts(w), deps.store().attemptStats(w), deps.store().deliveryLatency(w), refusalsIn(w)]);
    const charts = [
      throughput(w, counts, attempts), errorRates(w, counts, attempts, refused.refusals), receivedBySource(w, counts), ...endToEndCharts(w, latency),
      ...names.destinations.map((d) => destinationCharts(w, attempts, d).success),
    ];
    const totals = { received: counts.received.reduce((s, r) => s + r.count, 0), delivered: attempts.filter((a) => a.success).reduce((s, a) => s + a.count, 0), failed: attempts.filter((a) => !a.success).reduce((s, a) => s + a.count, 0) };
    return reply.viewAsync('overview.eta', { title: 'Overview', w, totals, chartsJson: embedJson(charts), index: deps.freshness() });
  });

  app.get('/events', async (req, reply) => {
    const f = filters(req.query);
    let page: Awaited<ReturnType<typeof searchView>> | null = null;
    let error: BadQuery | null = null;
    try {
      page = await searchView(deps, f);
    } catch (err) {
      if (!(err instanceof BadQuery)) throw err;
      error = err;
    }
    const window = { from: f.from ?? '', to: f.to ?? '' };
    const states: Record<string, number> = {};
    for (const i of page?.items ?? []) for (const d of i.deliveries) states[d.state] = (states[d.state] ?? 0) + 1;
    return reply.code(error ? 400 : 200).viewAsync('events.eta', {
      title: 'Events', f, names, page, error, states, window, more: page?.next ? `/events?${qs({ ...f, cursor: page.next })}` : null,
      tail: f.cursor === undefined && page !== null ? `/events/tail?${qs({ ...f, after: page.items[0]?.id ?? '' })}` : null,
      // The same selection on the bulk page (its dry run counts before anything is sent).
      bulk: page && page.items.length > 0 ? `/bulk?${qs({ ...f, cursor: undefined, limit: undefined })}` : null,
    });
  });

  // The live tail: rows newer than the newest shown (htmx polls it every 2 s).
  app.get('/events/tail', async (req, reply) => {
    const { after, ...rest } = req.query as Record<string, string>;
    const f = filters(rest);
    delete f.cursor;
    const since = after ? eventIdTime(after) : undefined;
    const page = await searchView(deps, since !== undefined ? { ...f, from: String(since) } : f);
    const items = after ? page.items.filter((i) => i.id > after) : page.items;
    const next = `/events/tail?${qs({ ...f, after: items[0]?.id ?? after ?? '' })}`;
    return reply.viewAsync('partials/rows.eta', { items, next }, { layout: undefined as never });
  });

  app.get('/events/:id', async (req, reply) => {
    const id = parseEventId((req.params as { id: string }).id);
    const t = await traceView(deps, id);
    if (t === null) {
      const index = deps.freshness();
      throw Object.assign(new Error(`Event ${id} is not in the index${index.totalLag ? ` (the index is ${index.totalLag} records behind Kafka: it may not be indexed yet)` : ''}.`), { statusCode: 404 });
    }
    let pretty: string | null = null;
    if (t.event?.body && t.event.bodyEncoding === 'utf8') {
      try { pretty = JSON.stringify(JSON.parse(t.event.body), null, 2); } catch { /* not JSON: the raw text is shown */ }
    }
    const routed = new Set(t.decisions.map((d) => d.destination));
    return reply.viewAsync('event.eta', { title: `Event ${id}`, t, id, pretty, destinations: names.destinations.filter((d) => routed.has(d) || t.deliveries.some((x) => x.destination === d)), message: (req.query as { done?: string }).done ?? null });
  });

  app.post('/events/:id/retry', { preHandler: operatorOnly, config: { action: 'delivery.retry' } }, async (req, reply) => {
    const id = parseEventId((req.params as { id: string }).id);
    const dest = destinationName(String((req.body as { destination?: string }).destination ?? ''));
    const r = await ops.replayEvent(id, dest);
    await audit(req, { action: 'delivery.retry', target: `${id} → ${dest}`, detail: { replayId: r.replayId, replayed: r.replayed, skipped: r.skipped, filtered: r.filtered } });
    return reply.redirect(`/events/${id}?done=${encodeURIComponent(r.replayed > 0 ? `Sent again to ${dest} (replay ${r.replayId}); the new attempt appears below in a moment.` : `Nothing was sent: ${r.filtered > 0 ? 'the connection filters it out today' : 'the event was not found in Kafka'}.`)}`, 303);
  });

  app.post('/events/:id/replay', { preHandler: operatorOnly, config: { action: 'event.replay' } }, async (req, reply) => {
    const id = parseEventId((req.params as { id: string }).id);
    const raw = String((req.body as { destination?: string }).destination ?? '');
    const dest = raw === '' ? undefined : destinationName(raw);
    const r = await ops.replayEvent(id, dest);
    await audit(req, { action: 'event.replay', target: dest ? `${id} → ${dest}` : `${id} (today's routes)`, detail: { replayId: r.replayId, deliveries: r.deliveries, replayed: r.replayed, filtered: r.filtered } });
    return reply.redirect(`/events/${id}?done=${encodeURIComponent(`Replayed through today's routes${dest ? ` to ${dest}` : ''}: ${r.replayed} deliveries (replay ${r.replayId}).`)}`, 303);
  });

  app.get('/destinations', async (req, reply) => {
    const w = chartWindow((req.query as { window?: string }).window);
    const [status, attempts] = await Promise.all([ops.destinations(), deps.store().attemptStats(w)]);
    const cards = status.map((s) => {
      const d = config.destinations.find((x) => x.name === s.name)!;
      return { s, url: redactUrl(d.url), rateLimit: d.rateLimit, ordering: d.ordering, charts: destinationCharts(w, attempts, s.name) };
    });
    return reply.viewAsync('destinations.eta', { title: 'Destinations', w, cards, chartsJson: embedJson(cards.flatMap((c) => [c.charts.success, c.charts.latency])), message: (req.query as { done?: string }).done ?? null });
  });

  for (const action of ['pause', 'resume', 'reset-breaker'] as const) {
    app.post(`/destinations/:name/${action}`, { preHandler: operatorOnly, config: { action: `destination.${action}` } }, async (req, reply) => {
      const name = destinationName((req.params as { name: string }).name);
      const reason = String((req.body as { reason?: string }).reason ?? '').trim().slice(0, 200) || undefined;
      const before = (await ops.destinations([name]))[0]!;
      // The shared pause state says "operator"; the reason says which one.
      const after = await ops.setDestination(action, name, action === 'pause' ? `${reason ?? 'paused from the console'} (${req.user!.name})` : undefined);
      await audit(req, { action: `destination.${action}`, target: name, detail: { reason: reason ?? null, before: { paused: before.paused, breaker: before.breaker?.state ?? null }, after: { paused: after.paused, breaker: after.breaker?.state ?? null } } });
      return reply.redirect(`/destinations?done=${encodeURIComponent(`${name}: ${action === 'pause' ? 'paused' : action === 'resume' ? 'resumed' : 'breaker reset'}.`)}`, 303);
    });
  }

  app.get('/sources', async (req, reply) => {
    const w = chartWindow((req.query as { window?: string }).window);
    const [counts, { refusals, capped }] = await Promise.all([deps.store().counts(w), refusalsIn(w)]);
    const perSource = names.sources.map((s) => ({
      name: s, accepted: counts.received.filter((r) => r.source === s).reduce((n, r) => n + r.count, 0), refused: refusals.filter((r) => r.source === s).length,
    }));
    return reply.viewAsync('sources.eta', { title: 'Sources', w, perSource, refusals: refusals.slice(0, 100), capped, chartsJson: embedJson([receivedBySource(w, counts), refusalsByReason(w, refusals)]) });
  });

  /** Refusals in the window, newest first, at most 5,000 (a flood is sampled by ingress already). */
  async function refusalsIn(w: { from: number; to: number }): Promise<{ refusals: RejectionRow[]; capped: boolean }> {
    const refusals: RejectionRow[] = [];
    let cursor: string | undefined;
    do {
      const p = await deps.store().rejections({ from: w.from, to: w.to, limit: 500, ...(cursor ? { cursor } : {}) });
      refusals.push(...p.items);
      cursor = p.next ?? undefined;
    } while (cursor && refusals.length < 5000);
    return { refusals, capped: refusals.length >= 5000 };
  }

  // A link from the events page brings its search along (filters in the URL).
  app.get('/bulk', async (req, reply) => {
    const form = filters(req.query);
    return reply.viewAsync('bulk.eta', { title: 'Bulk actions', names, preview: null, jobs: ops.recentJobs(), form, narrowing: narrowingOf(form) });
  });

  /** The narrowing filters present in a form, as shown to the operator ("q=refund, eventType=invoice.*"). */
  function narrowingOf(f: Params): string {
    return NARROWING.filter((k) => f[k] !== undefined).map((k) => `${k}=${([] as string[]).concat(f[k]!).join(', ')}`).join('; ');
  }

  // Each bulk action: first a dry run that says how many (nothing sent), then the same form
  // with confirm=yes starts the job.
  app.post('/bulk/:kind', { preHandler: operatorOnly, config: { action: 'bulk.:kind' } }, async (req, reply) => {
    const kind = (req.params as { kind: string }).kind;
    if (kind !== 'redrive' && kind !== 'replay' && kind !== 'retry') throw Object.assign(new Error('unknown bulk action'), { statusCode: 404 });
    const body = (req.body ?? {}) as Record<string, string>;
    const form = { ...body, _csrf: undefined };
    const f = filters(body);
    const now = Date.now();
    const time = (name: string, text: string | undefined, fallback: number) => {
      try { return text ? parseTime(name, text, now) : fallback; } catch (err) { throw Object.assign(err as Error, { statusCode: 400 }); }
    };
    const from = time('from', body.from, now - 86_400_000);
    const to = time('to', body.to, now);
    if (from >= to) throw Object.assign(new Error('from must be before to'), { statusCode: 400 });
    const dest = body.destination ? destinationName(body.destination) : undefined;
    const sources = body.source ? [body.source].filter((s) => names.sources.includes(s)) : [];
    const confirm = body.confirm === 'yes';
    // The events page's filters (words, JSON path, type, status, key, ids, receipt) narrow a
    // retry or a redrive to the deliveries the index finds; a replay takes the window as is.
    const narrow: Params = {};
    for (const k of NARROWING) if (f[k] !== undefined) narrow[k] = f[k];
    const narrowed = kind !== 'replay' && Object.keys(narrow).length > 0;
    const state = kind === 'retry' && body.state === 'retrying' ? 'retrying' : 'dead';
    let pairs: { eventId: string; destination: string }[] = [];
    if (kind === 'retry' || narrowed) {
      try {
        pairs = await deliveriesIn(state, dest, sources, from, to, narrow);
      } catch (err) {
        if (!(err instanceof BadQuery)) throw err;
        throw Object.assign(new Error(`${err.param}: ${err.message}`), { statusCode: 400 });
      }
    }
    // A narrowed redrive takes exactly the dead deliveries the index found (none: nothing).
    const redriveIds = narrowed ? pairs.map((p) => p.eventId) : [];
    const target = `${dest ?? 'every destination'}${sources.length ? ` from ${sources.join(', ')}` : ''}${narrowed ? ` matching ${narrowingOf(narrow)}` : ''}, ${new Date(from).toISOString()} – ${new Date(to).toISOString()}`;
    if (!confirm) {
      let count: number;
      let what: string;
      if (kind === 'redrive') {
        const s = narrowed && pairs.length === 0 ? { redriven: 0, skipped: 0 } : await ops.redrive({ destination: dest, from, to, eventIds: redriveIds, dryRun: true });
        count = s.redriven;
        what = `${count} dead letter${count === 1 ? '' : 's'} will be re-sent to ${dest ?? 'their destinations'}${s.skipped ? ` (${s.skipped} skipped: transform-stage or unknown destination)` : ''}`;
      } else if (kind === 'replay') {
        const s = await ops.replayRange({ from, to, sources, destination: dest, dryRun: true });
        count = s.deliveries;
        what = `${s.matched} event${s.matched === 1 ? '' : 's'} will be replayed through today's routes: ${count} deliver${count === 1 ? 'y' : 'ies'}${dest ? ` to ${dest}` : ''}${s.filtered ? `, ${s.filtered} filtered out` : ''}`;
      } else {
        count = pairs.length;
        what = `${count} deliver${count === 1 ? 'y' : 'ies'} will be re-sent to ${dest ?? 'their destinations'}`;
      }
      return reply.viewAsync('bulk.eta', { title: 'Bulk actions', names, preview: { kind, what, count, form }, jobs: ops.recentJobs(), form, narrowing: narrowingOf(f) });
    }
    // Confirmed, but the search now finds nothing (or the form was not from a dry run): an
    // empty id list would mean "every dead letter in the window" to the redrive.
    if (kind === 'redrive' && narrowed && redriveIds.length === 0) throw Object.assign(new Error('Nothing matches this search any more: nothing was sent.'), { statusCode: 409 });
    if (kind === 'retry') return reply.redirect(`/bulk/jobs/${(await startRetry(req, pairs, target)).id}`, 303);
    const title = kind === 'redrive' ? `Redrive dead letters: ${target}` : `Replay: ${target}`;
    const onEnd = (job: Job) => { void audit(req, { action: `bulk.${kind}`, target, detail: { job: job.id, state: job.state, result: job.result, error: job.error } }).catch(() => {}); };
    const job = ops.start(title, req.user!.name, async (j) => (kind === 'redrive' ? ops.redrive({ destination: dest, from, to, eventIds: redriveIds, dryRun: false }, j) : ops.replayRange({ from, to, sources, destination: dest, dryRun: false }, j)), onEnd);
    await audit(req, { action: `bulk.${kind}.start`, target, detail: { job: job.id } });
    return reply.redirect(`/bulk/jobs/${job.id}`, 303);
  });

  /**
   * Deliveries the index shows in a state (at most 10,000), by destination, source and
   * window, narrowed by the events page's filters (checked as the search checks them).
   */
  async function deliveriesIn(state: 'dead' | 'retrying', dest: string | undefined, sources: string[], from: number, to: number, narrow: Params = {}) {
    const { query } = parseEventQuery({ ...narrow, limit: '500' });
    const pairs: { eventId: string; destination: string }[] = [];
    let cursor: string | undefined;
    do {
      const p = await deps.store().searchEvents({ ...query, from, to, states: [state], ...(dest ? { destinations: [dest] } : {}), ...(sources.length ? { sources } : {}), limit: 500, ...(cursor ? { cursor } : {}) });
      for (const i of p.items) for (const d of i.deliveries) if (d.state === state && (!dest || d.destination === dest)) pairs.push({ eventId: i.id, destination: d.destination });
      cursor = p.next ?? undefined;
    } while (cursor && pairs.length < 10_000);
    return pairs.slice(0, 10_000);
  }

  /** Re-sends exactly these deliveries (one replay per destination, of those events) as a job. */
  async function startRetry(req: FastifyRequest, pairs: { eventId: string; destination: string }[], target: string): Promise<Job> {
    const onEnd = (job: Job) => { void audit(req, { action: 'bulk.retry', target, detail: { job: job.id, state: job.state, result: job.result, error: job.error } }).catch(() => {}); };
    const job = ops.start(`Retry ${pairs.length} failed deliveries: ${target}`, req.user!.name, async (j) => {
      let last: Awaited<ReturnType<Operations['replayRange']>> | null = null;
      for (const d of [...new Set(pairs.map((p) => p.destination))]) {
        const ids = pairs.filter((p) => p.destination === d).map((p) => p.eventId);
        const times = ids.map((id) => eventIdTime(id)!);
        const r = await ops.replayRange({ from: Math.min(...times), to: Math.max(...times) + 1, sources: [], destination: d, eventIds: ids, dryRun: false }, j);
        last = last ? { ...r, replayed: last.replayed + r.replayed, matched: last.matched + r.matched, deliveries: last.deliveries + r.deliveries, skipped: last.skipped + r.skipped } : r;
      }
      return last ?? { replayId: '', from: '', to: '', dryRun: false, scanned: 0, matched: 0, deliveries: 0, replayed: 0, skipped: 0, filtered: 0, failed: 0 };
    }, onEnd);
    await audit(req, { action: 'bulk.retry.start', target, detail: { job: job.id, deliveries: pairs.length } });
    return job;
  }

  app.get('/issues', async (req, reply) => {
    const state = String((req.query as { state?: string }).state ?? 'active');
    const states = state === 'all' ? undefined : state === 'active' ? ['open', 'acknowledged'] as IssueState[] : (ISSUE_STATES as readonly string[]).includes(state) ? [state as IssueState] : ['open', 'acknowledged'] as IssueState[];
    const page = await deps.store().issues({ limit: 100, ...(states ? { states } : {}) });
    return reply.viewAsync('issues.eta', { title: 'Issues', page, state });
  });

  app.get('/issues/:id', async (req, reply) => {
    const id = parseIssueId((req.params as { id: string }).id);
    const issue = await deps.store().issue(id);
    if (!issue) throw Object.assign(new Error(`There is no issue ${id}.`), { statusCode: 404 });
    const events = await deps.store().issueEvents(id, 50);
    // A delivery issue offers a retry of its destination's dead deliveries since it began.
    const failed = issue.kind === 'delivery' && names.destinations.includes(issue.target) ? (await deliveriesIn('dead', issue.target, [], issue.firstSeen - 60_000, Date.now() + 1)).length : 0;
    return reply.viewAsync('issue.eta', { title: issue.title, issue, events, failed, message: (req.query as { done?: string }).done ?? null });
  });

  for (const [verb, state] of [['ack', 'acknowledged'], ['resolve', 'resolved'], ['ignore', 'ignored'], ['reopen', 'open']] as const) {
    app.post(`/issues/:id/${verb}`, { preHandler: operatorOnly, config: { action: `issue.${verb}` } }, async (req, reply) => {
      const id = parseIssueId((req.params as { id: string }).id);
      const before = await deps.store().issue(id);
      if (!before) throw Object.assign(new Error(`There is no issue ${id}.`), { statusCode: 404 });
      const issue = (await deps.store().setIssueState(id, state, req.user!.name, Date.now()))!;
      await audit(req, { action: `issue.${verb}`, target: `${id} ${issue.title}`, detail: { before: before.state, after: issue.state } });
      if (verb === 'resolve' && (req.body as { retry?: string } | undefined)?.retry === 'yes' && issue.kind === 'delivery') {
        const pairs = await deliveriesIn('dead', destinationName(issue.target), [], issue.firstSeen - 60_000, Date.now() + 1);
        if (pairs.length > 0) return reply.redirect(`/bulk/jobs/${(await startRetry(req, pairs, `${issue.target} (issue ${id})`)).id}`, 303);
      }
      return reply.redirect(`/issues/${id}?done=${encodeURIComponent(`Issue ${state === 'open' ? 'reopened' : state}.`)}`, 303);
    });
  }

  app.get('/bulk/jobs/:id', async (req, reply) => {
    const job = ops.job((req.params as { id: string }).id);
    if (!job) throw Object.assign(new Error('No such job (jobs are kept in memory until the console restarts).'), { statusCode: 404 });
    if (req.headers['hx-request']) {
      // 286 stops htmx polling once the job has ended.
      return reply.code(job.state === 'running' ? 200 : 286).viewAsync('partials/job.eta', { job }, { layout: undefined as never });
    }
    return reply.viewAsync('job.eta', { title: job.title, job });
  });

  app.get('/audit', async (req, reply) => {
    const cursor = (req.query as { cursor?: string }).cursor;
    const page = await deps.store().auditLog({ limit: 50, ...(cursor ? { cursor } : {}) });
    return reply.viewAsync('audit.eta', { title: 'Audit', page });
  });
}

/** A destination URL without its credentials (user:password@, token-looking query values). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) { u.username = '[redacted]'; u.password = ''; }
    for (const k of [...u.searchParams.keys()]) if (/token|key|secret|sig|password|auth/i.test(k)) u.searchParams.set(k, '[redacted]');
    return u.toString();
  } catch {
    return '[unparseable URL]';
  }
}

export type { FastifyReply };
