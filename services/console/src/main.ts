import { serviceMain } from '@hookyard/core';
import { buildConsole } from './app.ts';

await serviceMain('console', `hookyard console — the event history: indexes every event, routing decision, delivery
attempt, dead letter and refused request from Kafka, answers the query API (/api/v1, docs/api.md) and
serves the web console (/, docs/console.md: users with password hashes in console.users).

Environment: HOOKYARD_CONFIG (./hookyard.yaml; its console: section), KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
REDIS_URL (breaker state), PORT (8090 under ./hookyard up), LOG_LEVEL. Listens on console.host (127.0.0.1).
HTTP: / (the web console: log in), /api/v1/… (Authorization: Bearer <console.apiTokens token>),
/healthz, /readyz, /metrics.`, buildConsole);
