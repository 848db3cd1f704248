// The one place integration tests get Kafka, Redis and the registry from:
//   1. KAFKA_BROKERS + SCHEMA_REGISTRY_URL + REDIS_URL when all are set (CI, npm run infra:up);
//   2. else testcontainers when a Docker engine answers (a laptop with Docker);
//   3. else the local processes of scripts/infra (Maven-resolved Kafka, redis-server, Apicurio).
import { randomBytes } from 'node:crypto';
import { up, stackOptions, type StackAddresses } from '../../scripts/infra/local-stack.ts';

let cached: Promise<StackAddresses> | undefined;

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function viaTestcontainers(): Promise<StackAddresses> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const kafkaPort = 19092 + Math.floor(Math.random() * 1000);
  await new GenericContainer('apache/kafka:4.1.1')
    .withExposedPorts({ container: kafkaPort, host: kafkaPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://:${kafkaPort},CONTROLLER://:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_LOG_FLUSH_INTERVAL_MESSAGES: '1',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const redis = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
  const registry = await new GenericContainer('apicurio/apicurio-registry:3.0.9').withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080)).start();
  return {
    KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
    SCHEMA_REGISTRY_URL: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
    REDIS_URL: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
  };
}

export function infra(): Promise<StackAddresses> {
  cached ??= (async () => {
    const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL } = process.env;
    if (KAFKA_BROKERS && SCHEMA_REGISTRY_URL && REDIS_URL) return { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL };
    if (await dockerAnswers()) return viaTestcontainers();
    return up(stackOptions(), () => {});
  })();
  return cached;
}

/** A topic prefix of its own for each test, so tests never see each other's records. */
export function uniquePrefix(name: string): string {
  return `t-${name}-${randomBytes(4).toString('hex')}.`;
}
