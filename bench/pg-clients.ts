// Which PostgreSQL client the event history's store uses, measured: node-postgres (`pg`)
// against Postgres.js (`postgres`) on the store's two hot shapes — a batch written with one
// INSERT … SELECT FROM unnest(arrays) per table, and single-row lookups by key — against a
// real server, rounds interleaved, medians. `node bench/pg-clients.ts [--rows=20000]`.
import pg from 'pg';
import postgres from 'postgres';
import { scratchDatabase } from '../test/support/postgres.ts';

const rows = Number(process.argv.find((a) => a.startsWith('--rows='))?.slice(7) ?? 20_000);
const db = await scratchDatabase('hookyard_bench');
const url = db.url;
const body = JSON.stringify({ type: 'invoice.paid', data: { object: { customer: 'cus_123', amount: 4200, lines: Array.from({ length: 8 }, (_, i) => ({ i, sku: `sku_${i}` })) } } });
const make = (tag: string) => Array.from({ length: rows }, (_, i) => ({ id: `${tag}-${i}`, source: 'stripe', at: Date.now(), body, headers: JSON.stringify({ 'content-type': 'application/json', 'x-n': String(i) }) }));
const DDL = 'CREATE TABLE t (id text PRIMARY KEY, source text, at bigint, body text, headers jsonb)';
const INSERT = 'INSERT INTO t (id, source, at, body, headers) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[]) ON CONFLICT DO NOTHING';
const BATCH = 500;
const LOOKUPS = 2000;

const p = new pg.Pool({ connectionString: url, max: 4 });
const s = postgres(url, { max: 4, onnotice: () => {} });
await p.query(DDL);

async function viaPg(tag: string) {
  const data = make(tag);
  const t0 = performance.now();
  for (let i = 0; i < data.length; i += BATCH) {
    const b = data.slice(i, i + BATCH);
    await p.query(INSERT, [b.map((r) => r.id), b.map((r) => r.source), b.map((r) => r.at), b.map((r) => r.body), b.map((r) => r.headers)]);
  }
  const write = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) await p.query('SELECT * FROM t WHERE id = $1', [`${tag}-${i}`]);
  return { writeRowsPerS: rows / (write / 1000), lookupMs: (performance.now() - t1) / LOOKUPS };
}

async function viaPostgresJs(tag: string) {
  const data = make(tag);
  const t0 = performance.now();
  for (let i = 0; i < data.length; i += BATCH) {
    const b = data.slice(i, i + BATCH);
    await s.unsafe(INSERT, [b.map((r) => r.id), b.map((r) => r.source), b.map((r) => r.at), b.map((r) => r.body), b.map((r) => r.headers)] as never);
  }
  const write = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) await s`SELECT * FROM t WHERE id = ${`${tag}-${i}`}`;
  return { writeRowsPerS: rows / (write / 1000), lookupMs: (performance.now() - t1) / LOOKUPS };
}

const results: Record<string, { writeRowsPerS: number; lookupMs: number }[]> = { pg: [], postgres: [] };
for (let r = 0; r < 3; r++) {
  for (const [name, fn] of (r % 2 === 0 ? [['pg', viaPg], ['postgres', viaPostgresJs]] : [['postgres', viaPostgresJs], ['pg', viaPg]]) as [string, (t: string) => Promise<{ writeRowsPerS: number; lookupMs: number }>][]) {
    const x = await fn(`${name}-${r}`);
    results[name]!.push(x);
    console.log(`round ${r + 1} ${name}: ${Math.round(x.writeRowsPerS)} rows/s written, ${x.lookupMs.toFixed(3)} ms per lookup`);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, xs] of Object.entries(results)) console.log(`${name}: median ${Math.round(med(xs.map((x) => x.writeRowsPerS)))} rows/s written (batches of ${BATCH}), ${med(xs.map((x) => x.lookupMs)).toFixed(3)} ms per lookup`);
await p.end();
await s.end();
await db.drop();
