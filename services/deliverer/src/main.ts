import { createLogger, helpRequested, loadConfigOrExit, runUntilSignal, runtimeEnv } from '@hookyard/core';
import { buildDeliverer } from './app.ts';

const HELP = `hookyard deliverer — delivers deliveries.<destination> records over HTTP.

Environment: HOOKYARD_CONFIG (./hookyard.yaml), KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
REDIS_URL, LOG_LEVEL. Scale by running more replicas: they share one consumer group.`;

if (!helpRequested(process.argv, HELP)) {
  const config = loadConfigOrExit('deliverer');
  const env = runtimeEnv();
  const log = createLogger('deliverer', env.logLevel);
  const deliverer = buildDeliverer({ config, env, log });
  runUntilSignal(deliverer, log);
  await deliverer.start();
}
