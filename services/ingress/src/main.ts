import { serviceMain } from '@hookyard/core';
import { buildIngress } from './app.ts';

await serviceMain('ingress', `hookyard ingress — receives webhooks on POST /webhooks/<source> and captures them in Kafka.

Environment: HOOKYARD_CONFIG (./hookyard.yaml), KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
REDIS_URL (edge dedup), PORT (8080), LOG_LEVEL (info).
Endpoints: POST /webhooks/:source, GET /healthz, GET /readyz, GET /metrics.`, buildIngress);
