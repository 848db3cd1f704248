// Times and rates as the CLI reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRate, parseTime, parseWindow } from '../../../services/replayer/src/time.ts';
import { UsageError } from '../../../services/replayer/src/errors.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');

test('ISO 8601 and relative times', () => {
  assert.equal(parseTime('2026-11-24T10:00:00Z', '--from', NOW), Date.parse('2026-11-24T10:00:00Z'));
  assert.equal(parseTime('2026-11-24T10:00:00.250+01:00', '--from', NOW), Date.parse('2026-11-24T09:00:00.250Z'));
  assert.equal(parseTime('2026-11-24', '--from', NOW), Date.parse('2026-11-24T00:00:00Z'));
  assert.equal(parseTime('90m', '--from', NOW), NOW - 90 * 60_000);
  assert.equal(parseTime('2h', '--from', NOW), NOW - 7_200_000);
  assert.equal(parseTime('3d', '--from', NOW), NOW - 3 * 86_400_000);
  assert.equal(parseTime('now', '--to', NOW), NOW);
  for (const bad of ['', 'yesterday', '2h ago', '-2h', '2026-13-45T99:00:00Z', '1700000000']) {
    assert.throws(() => parseTime(bad, '--from', NOW), UsageError, bad);
  }
});

test('windows are [from, to) and --to must come after --from', () => {
  assert.deepEqual(parseWindow('2h', undefined, { required: true, now: NOW }), { from: NOW - 7_200_000, to: NOW });
  assert.throws(() => parseWindow('1h', '2h', { required: true, now: NOW }), /must be after --from/);
  assert.throws(() => parseWindow('1h', '1h', { required: true, now: NOW }), /must be after --from/);
  assert.throws(() => parseWindow(undefined, '1h', { required: true, now: NOW }), /--from is required/);
  assert.deepEqual(parseWindow(undefined, undefined, { required: false, now: NOW }), { from: 0, to: NOW });
});

test('rates', () => {
  assert.equal(parseRate('100/s'), 100);
  assert.equal(parseRate('6000/m'), 100);
  assert.equal(parseRate('2.5'), 2.5);
  assert.equal(parseRate(undefined), undefined);
  for (const bad of ['0', 'fast', '-1/s', '10/h']) assert.throws(() => parseRate(bad), UsageError, bad);
});
