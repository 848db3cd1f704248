// One delivery and its consequences, apart from how records are fetched (app.ts): the
// attempt (admission at the guard, the request, the answer settled in Redis), its record
// in delivery-attempts, a retry parked in a tier topic or waited out under its key, a dead
// letter when nothing is left. Per record, never per batch: app.ts hands each record's
// task to its partition's worker.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaMessage } from 'kafkajs';
import {
  AGE_BUCKETS, Counter, Gauge, Histogram, isPoisonRecord,
  type BatchingProducer, type Config, type DeadLetter, type Delivery, type DestinationConfig, type DestinationStateStore, type EnvelopeCodec, type Logger, type Registry, type Settle, type TopicNames,
} from '@hookyard/core';
import { recordedHeaders, type AttemptResult, type HttpSender } from './http-sender.ts';
import { classify, type Outcome } from './outcome.ts';
import type { DestinationGuard, Health, Held } from './destination-guard.ts';
import type { Task, TaskContext } from './partition-worker.ts';
import type { StageClock } from './stages.ts';
import { delayBefore, tierFor } from './retry-schedule.ts';

export const NOT_BEFORE = 'hookyard-not-before';

/**
 * What a pending record keeps of its fetch: its own copy of the value and nothing else.
 * A KafkaMessage's value is a view into the whole fetch response, and the batch holds every
 * message fetched with it; keeping either alive for as long as a record waits (a slow or
 * held destination) kept whole fetches in memory per pending record.
 */
export interface LeanRecord { offset: string; timestamp: string; key: string | null; value: Buffer | null; notBefore: number }
export function lean(m: KafkaMessage): LeanRecord {
  return {
    offset: m.offset, timestamp: m.timestamp, key: m.key ? m.key.toString() : null,
    value: m.value ? Buffer.from(m.value) : null, notBefore: Number(m.headers?.[NOT_BEFORE]?.toString() ?? 0),
  };
}


export interface DeliveryMetrics {
  attempts: Counter;
  eventAge: Histogram;
  latency: Histogram;
  retriesScheduled: Counter;
  retriesDue: Counter;
  deadLetters: Counter;
  gone: Counter;
  inFlight: Gauge;
}

export function deliveryMetrics(metrics: Registry): DeliveryMetrics {
  const attempts = new Counter({ name: 'hookyard_deliverer_attempts_total', help: 'Delivery attempts by destination and outcome', labelNames: ['destination', 'outcome'], registers: [metrics] });
  // First attempts of live (not replayed) events only: a retry's or a replay's age says
  // nothing about the pipeline's latency.
  const eventAge = new Histogram({
    name: 'hookyard_deliverer_event_age_seconds', help: 'Age of an event (since ingress received it) when its first attempt is fetched, and when its request starts',
    labelNames: ['destination', 'stage'], buckets: AGE_BUCKETS, registers: [metrics],
  });
  const latency = new Histogram({ name: 'hookyard_deliverer_attempt_seconds', help: 'Attempt latency', labelNames: ['destination'], registers: [metrics] });
  const retriesScheduled = new Counter({ name: 'hookyard_deliverer_retries_scheduled_total', help: 'Retries scheduled (a retry tier record, or a per-key wait)', labelNames: ['destination'], registers: [metrics] });
  const retriesDue = new Counter({ name: 'hookyard_deliverer_retries_due_total', help: 'Scheduled retries whose time came', labelNames: ['destination'], registers: [metrics] });
  const deadLetters = new Counter({ name: 'hookyard_deliverer_dead_letters_total', help: 'Deliveries sent to dead-letters', labelNames: ['destination'], registers: [metrics] });
  const gone = new Counter({ name: 'hookyard_deliverer_gone_total', help: '410 answers (the destination asks to be paused)', labelNames: ['destination'], registers: [metrics] });
  const inFlight = new Gauge({ name: 'hookyard_deliverer_in_flight', help: 'HTTP attempts under way', labelNames: ['destination'], registers: [metrics] });
  return { attempts, eventAge, latency, retriesScheduled, retriesDue, deadLetters, gone, inFlight };
}

export interface DeliveryDeps {
  topics: TopicNames;
  codec: EnvelopeCodec;
  /** Attempt records, retries and dead letters from all partitions share produce requests. */
  out: BatchingProducer;
  guard: DestinationGuard;
  sender: HttpSender;
  states: DestinationStateStore;
  log: Logger;
  opts: Config['deliverer'];
  /** Destinations as the running config version has them (read at each attempt). */
  byName: { get(name: string): DestinationConfig | undefined };
  byTopic: { get(topic: string): DestinationConfig | undefined };
  metrics: DeliveryMetrics;
}

export function deliverySteps(deps: DeliveryDeps) {
  const { topics, codec, out, guard, sender, states, log, opts, byName, byTopic } = deps;
  const { attempts, eventAge, latency, retriesScheduled, deadLetters, gone, inFlight, retriesDue } = deps.metrics;

  async function record(dest: DestinationConfig, d: Delivery, attempt: number, r: AttemptResult, o: Outcome, nextAt: number | null): Promise<void> {
    const value = await codec.encode(topics.attempts, 'delivery-attempt', {
      eventId: d.eventId, destination: d.destination, attempt, at: Date.now(), status: r.status ?? null, outcome: o.kind,
      latencyMs: r.latencyMs, error: r.error ?? (o.kind === 'success' ? null : o.reason), responseSnippet: r.responseSnippet.slice(0, 2048), nextAttemptAt: nextAt,
      requestHeaders: recordedHeaders(dest, r.headers),
    });
    await out.send(topics.attempts, { key: d.eventId, value });
  }

  async function deadLetter(dl: DeadLetter): Promise<void> {
    await out.send(topics.deadLetters, { key: dl.orderingKey, value: await codec.encode(topics.deadLetters, 'dead-letter', dl) });
    deadLetters.inc({ destination: dl.destination });
  }

  function deadDelivery(d: Delivery, attemptsMade: number, status: number | null, error: string): DeadLetter {
    return {
      eventId: d.eventId, source: d.source, destination: d.destination, receivedAt: d.receivedAt, orderingKey: d.orderingKey,
      headers: d.headers, body: d.body, stage: 'delivery', attempts: attemptsMade, lastStatus: status, lastError: error, deadAt: Date.now(), replayId: d.replayId,
    };
  }

  /** Decodes a record; a poison record goes to dead-letters (null), a registry outage throws (try again). */
  async function decode(topic: string, partition: number, m: LeanRecord): Promise<Delivery | null> {
    try {
      return await codec.decode<Delivery>(m.value!);
    } catch (err) {
      if (!isPoisonRecord(err)) throw err;
      log.error({ topic, partition, offset: m.offset, err: (err as Error).message }, 'undecodable delivery record sent to dead-letters');
      await deadLetter({
        eventId: '', source: '', destination: byTopic.get(topic)?.name ?? '', receivedAt: Number(m.timestamp), orderingKey: m.key ?? '',
        headers: {}, body: m.value ?? Buffer.alloc(0), stage: 'decode', attempts: 0, lastStatus: null,
        lastError: `undecodable delivery at ${topic}/${partition}@${m.offset}: ${(err as Error).message}`, deadAt: Date.now(), replayId: null,
      });
      return null;
    }
  }

  /** Puts a delivery in the retry tier for its remaining wait; acked before the record counts as finished. */
  async function park(d: Delivery, notBefore: number): Promise<void> {
    const topic = topics.retryTier(tierFor(notBefore - Date.now()));
    await out.send(topic, { key: d.orderingKey, value: await codec.encode(topic, 'delivery', d), headers: { [NOT_BEFORE]: String(notBefore) } });
  }

  /**
   * How an attempt ended: settled (delivered, dead-lettered, or delivered already), to be
   * tried again at `at` after `made` attempts (`retry`: this one failed; `due`: an earlier
   * owner's per-key retry is not due yet), or held (paused or breaker open; tier retries).
   */
  type Attempted = { kind: 'settled' } | { kind: 'retry' | 'due'; at: number; made: number } | Held;

  /**
   * One attempt and its consequences (attempt record; dead letter when nothing is left).
   * Redis is asked twice: once before (hint, delivered mark, send lease, pause, breaker,
   * rate limit) and once after (breaker report, mark or lease and hint). Two replicas can
   * hold one record during a rebalance; the lease makes the second wait for the first's
   * answer instead of sending too. A failure seen after the partition was revoked or
   * shutdown began is handed back (thrown): the next owner re-reads the uncommitted record.
   */
  async function attempt(taken: DestinationConfig, first: Delivery, ctx: TaskContext, waitAtGate: boolean, clock: StageClock | undefined, perKey: boolean): Promise<Attempted> {
    const { signal } = ctx;
    // The running config version's settings (URL, auth, secrets, timeout, schedule, limits),
    // not those of when the record was taken; a destination removed since finishes as taken.
    const dest = byName.get(taken.name) ?? taken;
    // Paused, breaker open, rate or concurrency limit: wait here (or, for a retry from a
    // tier topic, say how long so it is parked again — no attempt is spent).
    const ticket = await guard.admit(dest, signal, waitAtGate, { eventId: first.eventId, leaseMs: dest.timeoutMs + 5_000, readHint: perKey });
    if ('held' in ticket) return ticket;
    clock?.lap('admit');
    if ('skip' in ticket) {
      if (ticket.skip === 'due') return { kind: 'due', at: ticket.due, made: Math.max(first.attempt, ticket.hintAttempt) };
      attempts.inc({ destination: dest.name, outcome: 'duplicate_skipped' });
      return { kind: 'settled' };
    }
    // An earlier owner's attempts count (its per-key retry hint).
    const d = ticket.hintAttempt > first.attempt ? { ...first, attempt: ticket.hintAttempt } : first;
    let finished = false;
    const finish = (health: Health | null, settle: Settle): Promise<boolean> => {
      finished = true;
      return guard.finish(dest, ticket, d.eventId, health, settle, opts.dedupWindowSeconds);
    };
    try {
      const n = d.attempt + 1;
      // Only the request holds a slot: waiting for Kafka to ack the consequences does not.
      // In-flight requests are not aborted on shutdown: close() gives them a deadline.
      const r = await ctx.slot(() => {
        clock?.lap('slot');
        if (d.attempt === 0 && d.replayId === null) eventAge.observe({ destination: dest.name, stage: 'sent' }, Math.max(0, Date.now() - d.receivedAt) / 1000);
        inFlight.inc({ destination: dest.name });
        return sender.send(dest, d).finally(() => inFlight.dec({ destination: dest.name }));
      });
      clock?.lap('send');
      const o = classify(r);
      const delay = o.kind === 'retry' ? delayBefore(dest, n + 1) : undefined;
      const notBefore = delay === undefined ? null : Date.now() + Math.max(delay, o.minDelayMs);
      const settle: Settle = o.kind === 'success' ? { kind: 'delivered' }
        : notBefore === null ? { kind: 'dead' }
        : { kind: 'retry', ...(perKey ? { hint: { attempt: n, notBefore, ttlMs: opts.dedupWindowSeconds * 1000 } } : {}) };
      const written = await finish(o.kind === 'success' ? 'success' : o.kind === 'retry' ? 'failure' : 'neutral', settle);
      await ticket.release();
      clock?.lap('settle');
      latency.observe({ destination: dest.name }, r.latencyMs / 1000);
      attempts.inc({ destination: dest.name, outcome: r.ok ? 'success' : r.status ? `http_${Math.floor(r.status / 100)}xx` : 'network' });
      if (o.kind === 'success') {
        // Marked: a re-run of this record (the attempt record failing below, a crash before
        // the commit) finds the mark and skips, so the key's next record cannot be
        // overtaken by a resend of this one. Unmarked (Redis down), the key waits.
        if (written) ctx.releaseKey();
        await record(dest, d, n, r, o, null);
        clock?.lap('record');
        return { kind: 'settled' };
      }
      if (o.pauseDestination) {
        gone.inc({ destination: dest.name });
        log.warn({ destination: dest.name }, 'destination answered 410 Gone; pausing it');
        await states.set(dest.name, { paused: true, reason: `410 Gone from ${dest.url}`, at: Date.now(), by: 'deliverer' })
          .catch((err: unknown) => log.error({ err: (err as Error).message, destination: dest.name }, 'could not pause the destination'));
      }
      if (notBefore === null) {
        await record(dest, d, n, r, { ...o, kind: 'dead' }, null);
        await deadLetter(deadDelivery(d, n, r.status ?? null, o.kind === 'retry' ? `attempts exhausted; last: ${r.error ?? o.reason}` : o.reason));
        log.warn({ destination: dest.name, eventId: d.eventId, attempts: n, status: r.status }, 'delivery dead-lettered');
        return { kind: 'settled' };
      }
      signal.throwIfAborted();
      await record(dest, d, n, r, o, notBefore);
      retriesScheduled.inc({ destination: dest.name });
      return { kind: 'retry', at: notBefore, made: n };
    } finally {
      // Not sent (shutting down) or a step threw before the answer was settled: free the lease.
      if (!finished) {
        await finish(null, { kind: 'release' }).catch(() => {});
        await ticket.release();
      }
    }
  }

  /** Unordered: attempt in a slot; a retry goes to a tier topic and the record is finished. */
  const unorderedTask = (dest: DestinationConfig, d: Delivery, fromTier = false, clock?: StageClock): Task => async (ctx) => {
    const r = await attempt(dest, d, ctx, !fromTier, clock, false);
    if ('held' in r) await park(d, r.untilMs); // paused or breaker open: same attempt count, later
    else if (r.kind === 'retry') await park({ ...d, attempt: r.made }, r.at);
  };

  /**
   * Per-key: the record (and so its key) waits for its own retries; the wait holds no slot.
   * The retry hint in Redis lets the next owner (a restart, a rebalance) resume the
   * schedule where this one stopped.
   */
  const perKeyTask = (dest: DestinationConfig, first: Delivery, firstClock?: StageClock): Task => async (ctx) => {
    let d = first;
    let clock = firstClock;
    for (;;) {
      const r = await attempt(dest, d, ctx, true, clock, true);
      clock = undefined; // only the first attempt is timed
      if (!('held' in r) && r.kind === 'settled') return;
      // A retry (this owner's or an earlier one's): the key waits here, holding no slot.
      const at = 'held' in r ? r.untilMs : r.at;
      if (!('held' in r)) d = { ...d, attempt: r.made };
      const wait = at - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal: ctx.signal });
      if (!('held' in r)) retriesDue.inc({ destination: dest.name });
    }
  };

  return { decode, park, deadLetter, deadDelivery, unorderedTask, perKeyTask };
}

export type DeliverySteps = ReturnType<typeof deliverySteps>;
