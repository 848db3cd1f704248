import { createLogger, helpRequested, loadConfigOrExit, runUntilSignal, runtimeEnv } from '@hookyard/core';
import { buildRouter } from './app.ts';

const HELP = `hookyard router — fans raw-events out to one deliveries.<destination> topic per connection.

Environment: HOOKYARD_CONFIG (./hookyard.yaml), KAFKA_BROKERS, SCHEMA_REGISTRY_URL, LOG_LEVEL.`;

if (!helpRequested(process.argv, HELP)) {
  const config = loadConfigOrExit('router');
  const env = runtimeEnv();
  const log = createLogger('router', env.logLevel);
  const router = buildRouter({ config, env, log });
  runUntilSignal(router, log);
  await router.start();
}
