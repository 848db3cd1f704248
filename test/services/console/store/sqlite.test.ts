import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from '../../../../services/console/src/store/sqlite/store.ts';
import { storeConformance } from '../../../../services/console/src/store/drivertest/suite.ts';

// A real file (WAL, FULL sync), not :memory:, as the service runs it.
const dir = mkdtempSync(join(tmpdir(), 'hookyard-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
storeConformance('sqlite', async () => new SqliteStore({ path: join(dir, 'index.db') }));
