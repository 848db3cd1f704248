// Builds a config and runtime env for one test, and runs services in-process or as
// child processes (for kill -9).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig, type Config, type RuntimeEnv } from '@hookyard/core';
import type { StackAddresses } from '../../scripts/infra/local-stack.ts';
import { pino } from 'pino';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const quietLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function testConfig(raw: Record<string, unknown>): Config {
  return parseConfig(stringify(raw), {}, 'test');
}

export function runtimeFor(a: StackAddresses, port = 0): RuntimeEnv {
  return { brokers: a.KAFKA_BROKERS.split(','), registryUrl: a.SCHEMA_REGISTRY_URL, redisUrl: a.REDIS_URL, port, metricsPort: undefined, logLevel: 'silent' };
}

export function writeConfigFile(raw: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hookyard-test-'));
  const file = join(dir, 'hookyard.yaml');
  writeFileSync(file, stringify(raw));
  return file;
}

/** Starts a service's main.ts as its own process; resolves once it logged `readyMsg`. */
export function spawnService(service: string, configFile: string, a: StackAddresses, readyMsg: string, extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(repoRoot, 'services', service, 'src', 'main.ts')], {
    env: { ...process.env, ...a, HOOKYARD_CONFIG: configFile, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${service} did not start:\n${out}`)), 60_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes(readyMsg)) {
        clearTimeout(timer);
        resolvePromise(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${service} exited ${code}:\n${out}`)); });
  });
}

/**
 * Waits until a service's /readyz answers 200 (a real Kafka call behind it), as a load
 * balancer would before sending traffic. Returns the base URL for chaining.
 */
export async function whenReady(baseUrl: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      last = `${res.status} ${await res.text()}`;
      if (res.ok) return baseUrl;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${baseUrl} not ready after ${timeoutMs} ms: ${last}`);
}
