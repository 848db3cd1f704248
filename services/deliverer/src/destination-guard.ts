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
  release(): Promise<void>;
}

export interface Held {
  held: 'paused' | 'breaker';
  untilMs: number;
}

/** How an attempt ended, for the breaker: the destination failed, answered, or did fine. */
export type Health = 'success' | 'failure' | 'neutral';

const PAUSED_RECHECK_MS = 500;
const PAUSED_PARK_MS = 30_000;

export class DestinationGuard {
  private readonly store: ProtectionStore;
  private readonly pauses: PauseState;
  private readonly log: Logger;
  private readonly onBreaker: (dest: string, event: 'opened' | 'closed') => void;
  private lastWarned = 0;

  constructor(store: ProtectionStore, pauses: PauseState, log: Logger, onBreaker: (dest: string, event: 'opened' | 'closed') => void = () => {}) {
    this.store = store;
    this.pauses = pauses;
    this.log = log;
    this.onBreaker = onBreaker;
  }

  isPaused(dest: DestinationConfig): boolean {
    return dest.paused || this.pauses.isPaused(dest.name);
  }

  /**
   * Waits until the destination may be sent to, or — with `wait` false (retries from the
   * tier topics) — says how long it is held so the caller can park the record instead.
   */
  async admit(dest: DestinationConfig, signal: AbortSignal, wait: boolean): Promise<Ticket | Held> {
    const holder = randomUUID();
    const max = dest.rateLimit?.maxConcurrency;
    let slot = false;
    const releaseSlot = async () => {
      if (slot) await this.store.release(dest.name, holder).catch(() => {});
      slot = false;
    };
    try {
      for (;;) {
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
        if (r.kind === 'go') return { probe: r.probe, release: releaseSlot };
        if (r.kind === 'wait') {
          await sleep(r.waitMs, undefined, { signal });
          continue;
        }
        await releaseSlot();
        if (!wait) return { held: 'breaker', untilMs: Date.now() + r.waitMs };
        await sleep(Math.min(r.waitMs, 1000), undefined, { signal });
      }
    } catch (err) {
      await releaseSlot();
      throw err;
    }
  }

  async report(dest: DestinationConfig, health: Health, probe: boolean): Promise<void> {
    if (!dest.breaker.enabled) return;
    // A terminal 4xx still shows the destination is up: it closes a probing breaker.
    const ok = health !== 'failure';
    if (health === 'neutral' && !probe) return;
    const state = await this.store.report(dest.name, Date.now(), ok, probe, dest.breaker).catch(() => null);
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
