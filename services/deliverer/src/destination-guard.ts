// Asks, before every attempt, whether a destination may be sent to now: not paused, its
// circuit breaker not open (or this is the one half-open probe), its rate limit and
// concurrency limit allowing. State is shared by all replicas (Redis for the breaker and
// limits, the destination-state topic for pauses). Waiting here holds no HTTP slot and
// never touches another destination. Redis down: the breaker and limits are not enforced
// (fail open, logged) — delivery must not stop because its protection is unavailable.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AdmitResult, BreakerOptions, DestinationConfig, Logger } from '@hookyard/core';

export interface ProtectionStore {
  admit(dest: string, now: number, o: { breaker: BreakerOptions | null; perSecond?: number | undefined; perMinute?: number | undefined; probeLeaseMs: number }): Promise<AdmitResult>;
  report(dest: string, now: number, ok: boolean, probe: boolean, b: BreakerOptions): Promise<'closed' | 'open' | 'opened'>;
  acquire(dest: string, holder: string, max: number, leaseMs: number): Promise<boolean>;
  release(dest: string, holder: string): Promise<void>;
}

export interface PauseState {
  isPaused(dest: string): boolean;
}

export interface Ticket {
  probe: boolean;
  /** Marks the probe's outcome as reported (report() calls it). */
  reported?: () => void;
  release(): Promise<void>;
}

export interface Held {
  held: 'paused' | 'breaker';
  untilMs: number;
}

/** How an attempt ended, for the breaker: the destination failed, answered, or did fine. */
export type Health = 'success' | 'failure' | 'neutral';

/**
 * A destination this replica knows to be open. Held attempts wait here instead of each
 * asking Redis: when the cooldown ends one of them (the leader) asks; the rest follow its
 * answer — released when the breaker closes, kept waiting when it stays open. Thousands of
 * held events therefore cost one Redis call per cooldown, not a thundering herd.
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
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.elect(), Math.max(0, until - Date.now())).unref();
  }

  private elect(): void {
    if (this.leading) return;
    const next = this.waiters.shift();
    if (next) {
      this.leading = true;
      next('leader');
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
const PAUSED_PARK_MS = 30_000;

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
   * Waits until the destination may be sent to, or — with `wait` false (retries from the
   * tier topics) — says how long it is held so the caller can park the record instead.
   */
  async admit(dest: DestinationConfig, signal: AbortSignal, wait: boolean): Promise<Ticket | Held> {
    const holder = randomUUID();
    const max = dest.rateLimit?.maxConcurrency;
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
          if (!wait && !gate.canLead()) return { held: 'breaker', untilMs: Math.max(gate.until, Date.now() + 1000) };
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
        const r = await this.store.admit(dest.name, Date.now(), {
          breaker: dest.breaker.enabled ? dest.breaker : null, perSecond: dest.rateLimit?.perSecond, perMinute: dest.rateLimit?.perMinute, probeLeaseMs: dest.timeoutMs + 5_000,
        }).catch((err: unknown): AdmitResult => {
          this.failOpen(err);
          return { kind: 'go', probe: false };
        });
        if (r.kind === 'go') {
          if (!r.probe) this.clearGate(dest.name); // closed (another replica's probe, or a reset)
          const probeGate = r.probe ? this.gates.get(dest.name) : undefined;
          let reported = false;
          return {
            probe: r.probe,
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
        if (!wait) return { held: 'breaker', untilMs: until };
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

  async report(dest: DestinationConfig, health: Health, ticket: Ticket): Promise<void> {
    const { probe } = ticket;
    ticket.reported?.();
    if (!dest.breaker.enabled) return;
    // A terminal 4xx still shows the destination is up: it closes a probing breaker.
    const ok = health !== 'failure';
    if (health === 'neutral' && !probe) return;
    const state = await this.store.report(dest.name, Date.now(), ok, probe, dest.breaker).catch(() => null);
    if (probe && state === 'open') this.gates.get(dest.name)?.arm(Date.now() + dest.breaker.cooldownMs);
    if (probe && state === 'closed') this.clearGate(dest.name);
    if (state === 'opened') {
      this.log.warn({ destination: dest.name, cooldownMs: dest.breaker.cooldownMs }, 'circuit breaker opened; holding deliveries');
      this.onBreaker(dest.name, 'opened');
    } else if (probe && state === 'closed') {
      this.log.info({ destination: dest.name }, 'circuit breaker closed after a successful probe');
      this.onBreaker(dest.name, 'closed');
    }
  }

  private failOpen(err: unknown): true {
    if (Date.now() - this.lastWarned > 10_000) {
      this.lastWarned = Date.now();
      this.log.warn({ err: (err as Error).message }, 'protection store unavailable; breaker and rate limits not enforced');
    }
    return true;
  }
}
