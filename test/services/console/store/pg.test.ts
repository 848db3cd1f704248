import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PgStore } from '../../../../services/console/src/store/pg/store.ts';
import { storeConformance } from '../../../../services/console/src/store/drivertest/suite.ts';
import { postgres } from '../../../support/postgres.ts';

// A database of its own per run, on a real server.
const db = `hookyard_t_${randomBytes(4).toString('hex')}`;
let admin: pg.Client | undefined;
after(async () => {
  await admin?.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
  await admin?.end();
});
storeConformance('postgres', async () => {
  const url = await postgres();
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  return PgStore.open({ url: url.replace(/\/[^/]*$/, `/${db}`) });
});
