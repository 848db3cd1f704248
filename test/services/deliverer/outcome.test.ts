import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, parseRetryAfter, RETRY_AFTER_CAP_MS } from '../../../services/deliverer/src/outcome.ts';
import { delayBefore, tierFor, TIERS_MS } from '../../../services/deliverer/src/retry-schedule.ts';
import { testConfig } from '../../support/stack.ts';

const kind = (status: number | undefined, retryAfter?: string) => classify({ status, error: status ? undefined : 'ECONNREFUSED', retryAfter });

test('outcome classes', () => {
  for (const s of [200, 201, 204, 299]) assert.equal(kind(s).kind, 'success');
  for (const s of [undefined, 408, 429, 500, 502, 503, 504]) assert.equal(kind(s).kind, 'retry', String(s));
  for (const s of [301, 302, 307, 400, 401, 403, 404, 409, 410, 422]) assert.equal(kind(s).kind, 'dead', String(s));
  assert.equal(kind(410).pauseDestination, true);
  assert.equal(kind(404).pauseDestination, false);
});

test('Retry-After in seconds or as an HTTP date, capped', () => {
  const now = Date.UTC(2026, 0, 1);
  assert.equal(kind(429, '7').minDelayMs, 7000);
  assert.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30_000);
  assert.equal(parseRetryAfter('999999', now), RETRY_AFTER_CAP_MS);
  assert.equal(parseRetryAfter('soon', now), 0);
  assert.equal(kind(400, '7').minDelayMs, 0, 'only retries wait');
});

test('the default schedule is Standard Webhooks’, with jitter; lists and exponential curves', () => {
  const cfg = testConfig({
    sources: [{ name: 's' }],
    destinations: [
      { name: 'std', url: 'http://x/' },
      { name: 'exp', url: 'http://x/', retry: { schedule: 'exponential', initialDelayMs: 1000, maxDelayMs: 5000, maxAttempts: 6 } },
      { name: 'list', url: 'http://x/', retry: { schedule: [0, 10, 20], maxAttempts: 5 } },
    ],
  });
  const [std, exp, list] = cfg.destinations as [typeof cfg.destinations[0], typeof cfg.destinations[0], typeof cfg.destinations[0]];
  const mid = () => 0.5;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => delayBefore(std, n, mid)), [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, undefined]);
  assert.equal(delayBefore(std, 2, () => 0), 4_500);
  assert.equal(delayBefore(std, 2, () => 1), 5_500);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => delayBefore(exp, n, mid)), [0, 1000, 2000, 4000, 5000, 5000, undefined]);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => delayBefore(list, n, mid)), [0, 10, 20, 20, 20, undefined]);
});

test('retry tiers: the largest tier not longer than the wait', () => {
  assert.equal(tierFor(10), TIERS_MS[0]);
  assert.equal(tierFor(4_999), 1_000);
  assert.equal(tierFor(5_000), 5_000);
  assert.equal(tierFor(36_000_000), 18_000_000);
});
