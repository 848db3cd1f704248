// When the next attempt happens. The default is Standard Webhooks': at once, 5 s, 5 min,
// 30 min, 2 h, 5 h, 10 h, 10 h. A destination may give its own list or an exponential curve.
import { DEFAULT_SCHEDULE_MS, type DestinationConfig } from '@hookyard/core';

export const JITTER = 0.1;

/** Delay before attempt number `next` (1-based; attempt 1 is the first), or undefined when no attempts are left. */
export function delayBefore(dest: DestinationConfig, next: number, random: () => number = Math.random): number | undefined {
  const r = dest.retry;
  const list = r.schedule === 'standard' ? DEFAULT_SCHEDULE_MS : Array.isArray(r.schedule) ? r.schedule : undefined;
  const max = r.maxAttempts ?? (list ? list.length : 8);
  if (next > max) return undefined;
  let base: number;
  if (list) base = list[Math.min(next - 1, list.length - 1)] ?? 0;
  else base = next === 1 ? 0 : Math.min(r.initialDelayMs * 2 ** (next - 2), r.maxDelayMs);
  // Jitter spreads retries of many events failing together.
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/**
 * Delay tiers for the retry topics (retry.<tier>ms). A waiting delivery sits in the largest
 * tier not longer than its remaining wait; every record in one tier waits the same time, so
 * due times are in offset order and a tier partition never blocks on a later-due record.
 */
export const TIERS_MS = [250, 1_000, 5_000, 30_000, 120_000, 300_000, 1_800_000, 7_200_000, 18_000_000] as const;

export function tierFor(remainingMs: number): number {
  let tier: number = TIERS_MS[0];
  for (const t of TIERS_MS) if (t <= remainingMs) tier = t;
  return tier;
}
