// A local PostgreSQL for the event history's production store, as a plain process from
// Debian's `postgresql` package (scripts/bootstrap.sh installs it): its own data directory
// in the stack's state dir, loopback only, started on demand (the PostgreSQL store's tests,
// a console configured for postgres). PostgreSQL refuses to run as root: as root, the
// cluster belongs to the `postgres` system user and its commands run through runuser.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { StackOptions } from './local-stack.ts';

export const PG_USER = 'hookyard';
export const PG_DATABASE = 'hookyard';

/** HOOKYARD_PG_PORT, else one per stack beside its Kafka port (19092 → 15432, 29092 → 25432). */
export function pgPort(o: StackOptions, env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.HOOKYARD_PG_PORT ?? o.kafkaPort - 3660);
}

export function pgDir(o: StackOptions): string {
  return join(o.stateDir, 'postgres');
}

export function pgUrl(port: number): string {
  return `postgres://${PG_USER}@127.0.0.1:${port}/${PG_DATABASE}`;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed (apt-get install postgresql; ./hookyard up or ./hookyard test installs it)');
  return join(root, versions[0]!, 'bin');
}

function pgUid(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('running as root needs the postgres system user (from the postgresql package)');
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function pgRun(tool: string, args: string[], what: string): string {
  const owner = pgUid();
  const cmd = join(binDir(), tool);
  const r = owner ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed (${tool} exit ${r.status ?? r.signal}):\n${(r.stdout ?? '') + (r.stderr ?? '')}`.slice(0, 3000));
  return r.stdout;
}

function running(dir: string): boolean {
  if (!existsSync(join(dir, 'PG_VERSION'))) return false;
  const owner = pgUid();
  const cmd = join(binDir(), 'pg_ctl');
  const r = owner ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, 'status', '-D', dir]) : spawnSync(cmd, ['status', '-D', dir]);
  return r.status === 0;
}

/**
 * Starts the stack's PostgreSQL (initialising it on first use) and returns its URL. Trust
 * authentication on 127.0.0.1 only: a developer's and CI's throwaway cluster, not a
 * deployment (which brings its own server and credentials in console.store.url).
 */
export async function pgUp(o: StackOptions, port = pgPort(o), log: (m: string) => void = () => {}): Promise<string> {
  const dir = pgDir(o);
  if (running(dir)) return pgUrl(port);
  const owner = pgUid();
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log(`initialising PostgreSQL in ${dir}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (owner) {
      chownSync(dir, owner.uid, owner.gid);
      // runuser needs to reach the directory through its parents.
      for (let d = o.stateDir; d !== '/' && d.length > 1; d = join(d, '..')) spawnSync('chmod', ['o+x', d]);
    }
    pgRun('initdb', ['-D', dir, '-U', PG_USER, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8'], 'initdb');
  }
  log(`starting PostgreSQL on 127.0.0.1:${port}`);
  pgRun('pg_ctl', ['start', '-w', '-t', '60', '-D', dir, '-l', join(dir, 'server.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`], 'starting PostgreSQL');
  const exists = pgRun('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', PG_USER, '-d', 'postgres', '-tAc', `SELECT 1 FROM pg_database WHERE datname = '${PG_DATABASE}'`], 'checking the database').trim();
  if (exists !== '1') pgRun('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', PG_USER, PG_DATABASE], 'creating the database');
  return pgUrl(port);
}

/** Stops the stack's PostgreSQL if it runs (its data stays unless the stack is wiped). */
export function pgDown(o: StackOptions): void {
  const dir = pgDir(o);
  if (running(dir)) pgRun('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', dir], 'stopping PostgreSQL');
}
