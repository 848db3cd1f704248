// One prom-client registry per service process, with default process metrics.
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'hookyard_' });
  return registry;
}
export { Counter, Gauge, Histogram, Registry } from 'prom-client';
