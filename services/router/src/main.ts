import { serviceMain } from '@hookyard/core';
import { buildRouter } from './app.ts';

await serviceMain('router', `hookyard router — fans raw-events out to one deliveries.<destination> topic per connection.

Environment: HOOKYARD_CONFIG (./hookyard.yaml), KAFKA_BROKERS, SCHEMA_REGISTRY_URL, LOG_LEVEL,
METRICS_PORT (unset: no HTTP; set: GET /healthz, /readyz, /metrics).`, buildRouter);
