// The body of every service's main.ts: --help, config (exit 2 on problems), build, signals, start.
import { createLogger, type Logger } from './logger.ts';
import { helpRequested, loadConfigOrExit } from './main-helper.ts';
import { runUntilSignal, type Service } from './lifecycle.ts';
import { runtimeEnv, type RuntimeEnv } from './runtime-env.ts';
import { durabilityPromise, type Config } from './config/options.ts';

export async function serviceMain(name: string, help: string, build: (deps: { config: Config; env: RuntimeEnv; log: Logger }) => Service): Promise<void> {
  if (helpRequested(process.argv, help)) return;
  const config = loadConfigOrExit(name);
  const env = runtimeEnv();
  const log = createLogger(name, env.logLevel);
  const service = build({ config, env, log });
  // The exit deadline leaves the deliverer its configured drain time plus room to commit and leave.
  runUntilSignal(service, log, Math.max(30_000, config.deliverer.shutdownTimeoutMs + 15_000));
  let address: unknown;
  try {
    address = await service.start();
  } catch (err) {
    // One line that says why (a port in use, a topic that cannot be created…), not a trace.
    log.error({ err: (err as Error).message }, `${name} could not start`);
    await service.close().catch(() => {});
    process.exit(1);
  }
  // What a 202 means under this configuration, said where operators look first.
  log.info({ ...(typeof address === 'string' ? { address } : {}), durability: durabilityPromise(config.kafka) }, `${name} started`);
}
