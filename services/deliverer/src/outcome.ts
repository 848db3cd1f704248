// Outcome classification, in one place and as data: what an HTTP answer means for a delivery.
export type OutcomeKind = 'success' | 'retry' | 'dead';

export interface Outcome {
  kind: OutcomeKind;
  /** Wait at least this long before the next attempt (Retry-After, capped). */
  minDelayMs: number;
  /** 410 Gone: the destination asked not to be called again. */
  pauseDestination: boolean;
  reason: string;
}

export interface AttemptAnswer {
  status: number | undefined;
  error: string | undefined;
  retryAfter: string | undefined;
}

export const RETRY_AFTER_CAP_MS = 3_600_000;

const RULES: { test: (s: number) => boolean; kind: OutcomeKind; reason: string }[] = [
  { test: (s) => s >= 200 && s < 300, kind: 'success', reason: '2xx' },
  { test: (s) => s === 408 || s === 429, kind: 'retry', reason: 'retryable 4xx' },
  { test: (s) => s >= 500, kind: 'retry', reason: '5xx' },
  { test: (s) => s >= 300 && s < 400, kind: 'dead', reason: 'redirects are not followed' },
  { test: (s) => s >= 400 && s < 500, kind: 'dead', reason: 'non-retryable 4xx' },
];

export function parseRetryAfter(value: string | undefined, now = Date.now()): number {
  if (!value) return 0;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, RETRY_AFTER_CAP_MS);
  const at = Date.parse(v);
  return Number.isNaN(at) ? 0 : Math.min(Math.max(0, at - now), RETRY_AFTER_CAP_MS);
}

export function classify(a: AttemptAnswer, now = Date.now()): Outcome {
  if (a.status === undefined) return { kind: 'retry', minDelayMs: 0, pauseDestination: false, reason: a.error ?? 'network error' };
  const rule = RULES.find((r) => r.test(a.status!)) ?? { kind: 'dead' as const, reason: `unexpected status ${a.status}` };
  return {
    kind: rule.kind,
    minDelayMs: rule.kind === 'retry' ? parseRetryAfter(a.retryAfter, now) : 0,
    pauseDestination: a.status === 410,
    reason: `${a.status} (${rule.reason})`,
  };
}
