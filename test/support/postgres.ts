// A PostgreSQL for tests: DATABASE_URL when set, else the stack's own (started on demand).
import { pgUp } from '../../scripts/infra/postgres.ts';
import { stackOptions } from '../../scripts/infra/local-stack.ts';

let cached: Promise<string> | undefined;

export function postgres(): Promise<string> {
  cached ??= process.env.DATABASE_URL ? Promise.resolve(process.env.DATABASE_URL) : pgUp(stackOptions());
  return cached;
}
