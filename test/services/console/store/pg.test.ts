import { after } from 'node:test';
import { PgStore } from '../../../../services/console/src/store/pg/store.ts';
import { storeConformance } from '../../../../services/console/src/store/drivertest/suite.ts';
import { scratchDatabase } from '../../../support/postgres.ts';

// A database of its own per run, on a real server.
let drop = async () => {};
after(() => drop());
storeConformance('postgres', async () => {
  const db = await scratchDatabase('hookyard_t');
  drop = db.drop;
  return PgStore.open({ url: db.url });
});
