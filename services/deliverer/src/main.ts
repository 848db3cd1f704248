import { serviceMain } from '@hookyard/core';
import { buildDeliverer } from './app.ts';

await serviceMain('deliverer', `hookyard deliverer — delivers deliveries.<destination> records over HTTP.

Environment: HOOKYARD_CONFIG (./hookyard.yaml), KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
REDIS_URL, LOG_LEVEL, METRICS_PORT (unset: no HTTP; set: GET /healthz, /readyz, /metrics).
Scale by running more replicas: they share one consumer group.`, buildDeliverer);
