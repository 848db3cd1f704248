import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate, version } from 'uuid';
import { eventId, eventIdTime } from '@hookyard/core';

test('event ids are valid UUIDv7 carrying their time, unique, and sort by time', () => {
  const t = Date.UTC(2026, 10, 24, 9, 30);
  const ids = Array.from({ length: 5000 }, (_, i) => eventId(t + i));
  for (const id of ids.slice(0, 50)) {
    assert.ok(validate(id), id);
    assert.equal(version(id), 7);
  }
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(eventIdTime(ids[0]!), t);
  assert.equal(eventIdTime(ids[4999]!), t + 4999);
  assert.equal(eventIdTime('not-an-id'), undefined);
});
