// A PostgreSQL for tests: DATABASE_URL when set, else the stack's own (started on demand).
import { pgUp } from '../../scripts/infra/postgres.ts';
import { stackOptions } from '../../scripts/infra/local-stack.ts';

let cached: Promise<string> | undefined;

export function postgres(): Promise<string> {
  cached ??= process.env.DATABASE_URL ? Promise.resolve(process.env.DATABASE_URL) : pgUp(stackOptions());
  return cached;
}

/** A database of its own on that server (tests, benches): its URL and how to drop it. */
export async function scratchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const { randomBytes } = await import('node:crypto');
  const { default: pg } = await import('pg');
  const base = await postgres();
  const db = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  return {
    url: base.replace(/\/[^/]*$/, `/${db}`),
    drop: async () => { await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {}); await admin.end(); },
  };
}
