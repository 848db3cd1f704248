import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { SqliteStore } from '../../../../services/console/src/store/sqlite/store.ts';
import { attemptHeadersAfterUpgrade, storeConformance } from '../../../../services/console/src/store/drivertest/suite.ts';

// A real file (WAL, FULL sync), not :memory:, as the service runs it.
const dir = mkdtempSync(join(tmpdir(), 'hookyard-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
storeConformance('sqlite', async () => new SqliteStore({ path: join(dir, 'index.db') }));

test('an index file from before attempts kept their headers gets the column; its old attempts read as null', async () => {
  const path = join(dir, 'old.db');
  await attemptHeadersAfterUpgrade(async () => new SqliteStore({ path }), async () => {
    const db = new DatabaseSync(path);
    db.exec('ALTER TABLE attempts DROP COLUMN request_headers');
    db.close();
  });
});
