import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time comparison of two byte strings of any length: both sides are hashed to
 * equal-length digests first, so neither the content nor the length leaks through timing.
 */
export function safeEqual(a: Buffer | string, b: Buffer | string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** True when any candidate equals any expected value; always compares every pair. */
export function anyEqual(candidates: readonly (Buffer | string)[], expected: readonly (Buffer | string)[]): boolean {
  let found = false;
  for (const c of candidates) for (const e of expected) found = safeEqual(c, e) || found;
  return found;
}
