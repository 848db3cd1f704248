// Asks, before every attempt, whether a destination may be sent to now: not paused, its
// circuit breaker not open (or this is the one half-open probe), its rate limit and
// concurrency limit allowing — and, in the same Redis call, whether the event is still
// to be sent (delivered mark, send lease, per-key retry hint). State is shared by all replicas (Redis for the breaker and
// limits, the destination-state topic for pauses). Waiting here holds no HTTP slot and
// never touches another destination. Redis down: the breaker and limits are not enforced
// (fail open, logged) — delivery must not stop because its protection is unavailable.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AdmitOptions, BeginResult, BreakerOptions, DestinationConfig, Logger, Settle } from '@hookyard/core';

export interface ProtectionStore {
  begin(dest: string, eventId: string, now: number, o: AdmitOptions & { leaseMs: number; readHint: boolean }): Promise<BeginResult>;
  finish(dest: string, eventId: string, now: number, o: { report: { ok: boolean; probe: boolean; breaker: BreakerOptions } | null; settle: Settle; markTtlSeconds: number }): Promise<'closed' | 'open' | 'opened' | null>;
  acquire(dest: string, holder: string, max: number, leaseMs: number): Promise<boolean>;
  release(dest: string, holder: string): Promise<void>;
}

export interface PauseState {
  isPaused(dest: string): boolean;
}

export interface Ticket {
  probe: boolean;
  /** Attempts an earlier owner made (its per-key retry hint); 0 when none. */
  hintAttempt: number;
  /** Whether the send lease is held in Redis (not when Redis was unavailable). */
  leased: boolean;
  /** Marks the probe's outcome as reported (finish() calls it). */
  reported?: () => void;
  release(): Promise<void>;
}

/** Nothing to send: delivered already, or an earlier owner's per-key retry is not due yet (`due`, epoch ms). */
export type Skip = { skip: 'delivered'; hintAttempt: number } | { skip: 'due'; due: number; hintAttempt: number };

/** What an attempt asks for besides admission: its send lease and, per-key, the retry hint. */
export interface Claim {
  eventId: string;
  leaseMs: number;
  readHint: boolean;
}

export interface Held {
  held: 'paused' | 'breaker';
  untilMs: number;
}

/** How an attempt ended, for the breaker: the destination failed, answered, or did fine. */
export type Health = 'success' | 'failure' | 'neutral';

/**
 * How often, before its cooldown ends, a gate asks Redis whether the breaker is still open:
 * an operator's reset (`hookyard destination reset-breaker`, the console's button) or
 * another replica's successful probe then takes effect within this, not at the end of a
 * cooldown of minutes. One call per open destination per replica per interval.
 */
const GATE_RECHECK_MS = 1000;

/**
 * A destination this replica knows to be open. Held attempts wait here instead of each
 * asking Redis: once a second, and when the cooldown ends, one of them (the leader) asks;
 * the rest follow its answer — released when the breaker is closed (or reset), kept
 * waiting while it stays open. Thousands of held events therefore cost one Redis call per
 * second, not a thundering herd.
 */
class OpenGate {
  until = 0;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: ((role: 'leader' | 'released') => void)[] = [];

  constructor(until: number) {
    this.arm(until);
  }

  /** Open until `until`: the current leader (if any) steps down; one waiter leads after it. */
  arm(until: number): void {
    this.until = until;
    this.leading = false;
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.elect(), Math.max(0, Math.min(this.until - Date.now(), GATE_RECHECK_MS))).unref();
  }

  /** A waiter leads the next check (its answer re-arms the gate or releases everyone). */
  private elect(): void {
    if (this.leading) return;
    const next = this.waiters.shift();
    if (next) {
      this.leading = true;
      next('leader');
    } else if (Date.now() < this.until) {
      this.schedule();
    }
  }

  /** Whether a caller asking now would lead the re-check (the cooldown is over and nobody leads). */
  canLead(): boolean {
    return !this.leading && Date.now() >= this.until;
  }

  wait(signal: AbortSignal): Promise<'leader' | 'released'> {
    if (!this.leading && Date.now() >= this.until) {
      this.leading = true;
      return Promise.resolve('leader');
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(settle);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      const settle = (role: 'leader' | 'released') => {
        signal.removeEventListener('abort', onAbort);
        resolve(role);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(settle);
    });
  }

  releaseAll(): void {
    clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w('released');
  }
}

const PAUSED_RECHECK_MS = 500;
/** Another replica holds the send lease (a rebalance): ask again after this. */
const BUSY_RECHECK_MS = 200;
const PAUSED_PARK_MS = 30_000;
/**
 * A retry held by an open breaker is parked until the cooldown ends, but for at most this:
 * after an operator's reset it is sent within it too (a cooldown of minutes would hold it
 * that long). Past the default cooldown (30 s) this costs one re-park per held retry per
 * interval.
 */
const BREAKER_PARK_MAX_MS = 30_000;
const heldRetryUntil = (until: number): number => Math.min(until, Date.now() + BREAKER_PARK_MAX_MS);

export class DestinationGuard {
  private readonly store: ProtectionStore;
  private readonly pauses: PauseState;
  private readonly log: Logger;
  private readonly onBreaker: (dest: string, event: 'opened' | 'closed') => void;
  private lastWarned = 0;
  private readonly gates = new Map<string, OpenGate>();

  constructor(store: ProtectionStore, pauses: PauseState, log: Logger, onBreaker: (dest: string, event: 'opened' | 'closed') => void = () => {}) {
    this.store = store;
    this.pauses = pauses;
    this.log = log;
    this.onBreaker = onBreaker;
  }

  isPaused(dest: DestinationConfig): boolean {
    return dest.paused || this.pauses.isPaused(dest.name);
  }

  /** Paused, or its breaker known open here: new records for it would only wait. */
  isHolding(dest: DestinationConfig): boolean {
    return this.gates.has(dest.name) || this.isPaused(dest);
  }

  /**
   * Waits until the destination may be sent to and the event's send lease is ours, or —
   * with `wait` false (retries from the tier topics) — says how long it is held so the
   * caller can park the record instead. One Redis round trip when nothing is in the way
   * (see RedisProtectionStore.begin). Says so when there is nothing to send.
   */
  async admit(dest: DestinationConfig, signal: AbortSignal, wait: boolean, claim: Claim): Promise<Ticket | Held | Skip> {
    const max = dest.rateLimit?.maxConcurrency;
    const holder = max === undefined ? '' : randomUUID(); // the semaphore's holder id
    let slot = false;
    let leader: OpenGate | undefined;
    const releaseSlot = async () => {
      if (slot) await this.store.release(dest.name, holder).catch(() => {});
      slot = false;
    };
    try {
      for (;;) {
        const gate = this.gates.get(dest.name);
        if (gate && gate !== leader) {
          // A retry from a tier topic never waits: it leads the re-check when one is due,
          // and is parked again otherwise.
          if (!wait && !gate.canLead()) return { held: 'breaker', untilMs: Math.max(heldRetryUntil(gate.until), Date.now() + 1000) };
          if ((await gate.wait(signal)) === 'leader') leader = gate;
          continue;
        }
        if (this.isPaused(dest)) {
          await releaseSlot();
          if (!wait) return { held: 'paused', untilMs: Date.now() + PAUSED_PARK_MS };
          await sleep(PAUSED_RECHECK_MS, undefined, { signal });
          continue;
        }
        if (max !== undefined && !slot) {
          slot = await this.store.acquire(dest.name, holder, max, dest.timeoutMs + 5_000).catch((err: unknown) => this.failOpen(err));
          if (!slot) {
            await sleep(10, undefined, { signal });
            continue;
          }
        }
        let leased = true;
        const r = await this.store.begin(dest.name, claim.eventId, Date.now(), {
          breaker: dest.breaker.enabled ? dest.breaker : null, perSecond: dest.rateLimit?.perSecond, perMinute: dest.rateLimit?.perMinute, probeLeaseMs: dest.timeoutMs + 5_000,
          leaseMs: claim.leaseMs, readHint: claim.readHint,
        }).catch((err: unknown): BeginResult => {
          this.failOpen(err);
          leased = false;
          return { kind: 'go', probe: false, hintAttempt: 0 };
        });
        if (r.kind === 'delivered' || r.kind === 'due') {
          await releaseSlot();
          if (leader && this.gates.get(dest.name) === leader) leader.arm(Date.now()); // hand the lead on
          return r.kind === 'delivered' ? { skip: 'delivered', hintAttempt: r.hintAttempt } : { skip: 'due', due: Date.now() + r.waitMs, hintAttempt: r.hintAttempt };
        }
        if (r.kind === 'busy') {
          await sleep(BUSY_RECHECK_MS, undefined, { signal });
          continue;
        }
        if (r.kind === 'go') {
          if (!r.probe) this.clearGate(dest.name); // closed (another replica's probe, or a reset)
          const probeGate = r.probe ? this.gates.get(dest.name) : undefined;
          let reported = false;
          return {
            probe: r.probe,
            hintAttempt: r.hintAttempt,
            leased,
            reported: () => { reported = true; },
            release: async () => {
              await releaseSlot();
              // A probe that was never sent (already delivered): let another held attempt lead.
              if (probeGate && !reported && this.gates.get(dest.name) === probeGate) probeGate.arm(Date.now());
            },
          };
        }
        if (r.kind === 'wait') {
          await sleep(r.waitMs, undefined, { signal });
          continue;
        }
        await releaseSlot();
        const until = Date.now() + r.waitMs;
        const g = this.gates.get(dest.name);
        if (g) g.arm(until);
        else this.gates.set(dest.name, new OpenGate(until));
        leader = undefined;
        if (!wait) return { held: 'breaker', untilMs: heldRetryUntil(until) };
      }
    } catch (err) {
      await releaseSlot();
      if (leader && this.gates.get(dest.name) === leader) leader.arm(Date.now()); // hand the lead on
      throw err;
    }
  }

  private clearGate(dest: string): void {
    const g = this.gates.get(dest);
    if (!g) return;
    this.gates.delete(dest);
    g.releaseAll();
  }

  /**
   * After the answer (or, with `health` null, when nothing was sent), one Redis round
   * trip: the breaker hears how it went, and the event's
   * keys are settled (delivered mark, lease, retry hint). Returns whether that was
   * written (false with Redis unavailable: no mark, so a per-key successor waits for the
   * record's whole step).
   */
  async finish(dest: DestinationConfig, ticket: Ticket, eventId: string, health: Health | null, settle: Settle, markTtlSeconds: number): Promise<boolean> {
    const { probe } = ticket;
    // null: nothing was sent, so the breaker hears nothing (an unsent probe is handed on
    // by the ticket's release).
    if (health !== null) ticket.reported?.();
    // A terminal 4xx still shows the destination is up: it closes a probing breaker.
    const report = health !== null && dest.breaker.enabled && (health !== 'neutral' || probe) ? { ok: health !== 'failure', probe, breaker: dest.breaker } : null;
    if (!report && !ticket.leased && settle.kind !== 'delivered' && !(settle.kind === 'retry' && settle.hint)) return true; // nothing to write
    let state: 'closed' | 'open' | 'opened' | null;
    try {
      state = await this.store.finish(dest.name, eventId, Date.now(), { report, settle, markTtlSeconds });
    } catch (err) {
      this.failOpen(err);
      return false;
    }
    if (probe && state === 'open') this.gates.get(dest.name)?.arm(Date.now() + dest.breaker.cooldownMs);
    if (probe && state === 'closed') this.clearGate(dest.name);
    if (state === 'opened') {
      // Known open here from now on, not only once a later record asks: the next fetch of this
      // destination's partitions is held at once (isHolding) instead of taken whole into memory.
      if (!this.gates.has(dest.name)) this.gates.set(dest.name, new OpenGate(Date.now() + dest.breaker.cooldownMs));
      this.log.warn({ destination: dest.name, cooldownMs: dest.breaker.cooldownMs }, 'circuit breaker opened; holding deliveries');
      this.onBreaker(dest.name, 'opened');
    } else if (probe && state === 'closed') {
      this.log.info({ destination: dest.name }, 'circuit breaker closed after a successful probe');
      this.onBreaker(dest.name, 'closed');
    }
    return true;
  }

  private failOpen(err: unknown): true {
    if (Date.now() - this.lastWarned > 10_000) {
      this.lastWarned = Date.now();
      this.log.warn({ err: (err as Error).message }, 'Redis unavailable: breaker, rate limits and dedup not enforced; delivering at-least-once');
    }
    return true;
  }
}
