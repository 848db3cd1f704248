// The process environment every service reads (SPEC "Running it").
export interface RuntimeEnv {
  brokers: string[];
  registryUrl: string;
  redisUrl: string;
  port: number;
  /** Router and deliverer: port of the /healthz, /readyz, /metrics side door (unset: none). */
  metricsPort: number | undefined;
  logLevel: string;
}

export function runtimeEnv(env: NodeJS.ProcessEnv = process.env): RuntimeEnv {
  return {
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean),
    registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    port: Number(env.PORT ?? 8080),
    metricsPort: env.METRICS_PORT ? Number(env.METRICS_PORT) : undefined,
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}
