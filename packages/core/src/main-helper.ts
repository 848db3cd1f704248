// Shared start-up for every service's main.ts: config errors exit 2 with every problem
// listed, never a stack trace.
import { ConfigError } from './errors.ts';
import { loadConfig } from './config/load.ts';
import type { Config } from './config/options.ts';

export function loadConfigOrExit(service: string): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hookyard ${service}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export function helpRequested(argv: string[], text: string): boolean {
  if (!argv.includes('--help') && !argv.includes('-h')) return false;
  process.stdout.write(`${text}\n`);
  return true;
}
