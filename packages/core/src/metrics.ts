// One prom-client registry per service process, with default process metrics.
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'hookyard_' });
  return registry;
}
export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets for an event's age along the pipeline, from milliseconds (live) to a minute (backlog). */
export const AGE_BUCKETS = [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60];
