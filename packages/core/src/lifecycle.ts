// One lifecycle contract for every service: start, then an idempotent close that stops
// intake, drains in-flight work and releases resources in reverse order.
import type { Logger } from 'pino';

export interface Service {
  start(): Promise<unknown>;
  close(): Promise<void>;
}

/** Collects release steps and runs them once, last registered first. */
export class Closer {
  private readonly steps: { name: string; fn: () => Promise<unknown> | unknown }[] = [];
  private closing: Promise<void> | undefined;

  add(name: string, fn: () => Promise<unknown> | unknown): void {
    this.steps.push({ name, fn });
  }

  close(log?: Logger): Promise<void> {
    this.closing ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.fn();
        } catch (err) {
          log?.warn({ err, step: step.name }, 'error while closing');
        }
      }
    })();
    return this.closing;
  }
}

/** main.ts helper: SIGTERM/SIGINT close the service within a deadline, then exit. */
export function runUntilSignal(service: Service, log: Logger, deadlineMs = 30_000): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    service.close().then(
      () => { log.info('stopped'); process.exit(0); },
      (err: unknown) => { log.error({ err }, 'error during shutdown'); process.exit(1); },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
