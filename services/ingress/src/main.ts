import { createLogger, helpRequested, loadConfigOrExit, runUntilSignal, runtimeEnv } from '@hookyard/core';
import { buildIngress } from './app.ts';

const HELP = `hookyard ingress — receives webhooks on POST /webhooks/<source> and captures them in Kafka.

Environment: HOOKYARD_CONFIG (./hookyard.yaml), KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
REDIS_URL, PORT (8080), LOG_LEVEL (info).
Endpoints: POST /webhooks/:source, GET /healthz, GET /readyz, GET /metrics.`;

if (!helpRequested(process.argv, HELP)) {
  const config = loadConfigOrExit('ingress');
  const env = runtimeEnv();
  const log = createLogger('ingress', env.logLevel);
  const ingress = buildIngress({ config, env, log });
  runUntilSignal(ingress, log);
  const address = await ingress.start();
  log.info({ address }, 'ingress listening');
}
