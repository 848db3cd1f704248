// kafkajs restarts a crashed consumer only when the error is retriable. Some are not
// (e.g. "Failed to find group coordinator" after a network partition), and the consumer
// then stays stopped while the process looks healthy: intake ends silently. Every
// long-running consumer therefore runs under this supervisor, which starts it again with
// backoff until the service closes.
import type { Consumer, ConsumerRunConfig } from 'kafkajs';
import type { Logger } from 'pino';

export interface SupervisedConsumer {
  /** Stops restarting (call before disconnecting the consumer on close). */
  stop(): void;
  /** Restarts done after non-retriable crashes. */
  restarts(): number;
}

export async function runSupervised(consumer: Consumer, run: ConsumerRunConfig, log: Logger, name: string, onRestart: () => void = () => {}): Promise<SupervisedConsumer> {
  let stopped = false;
  let restarts = 0;
  let relaunching = false;
  const relaunch = async () => {
    if (relaunching) return;
    relaunching = true;
    for (let attempt = 0; !stopped; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))));
      if (stopped) break;
      try {
        // The crash already disconnected it; the subscriptions are kept by kafkajs.
        await consumer.connect();
        if (stopped) { await consumer.disconnect().catch(() => {}); break; }
        await consumer.run(run);
        restarts++;
        onRestart();
        log.warn({ consumer: name, attempt: attempt + 1 }, 'consumer running again after a non-retriable crash');
        break;
      } catch (err) {
        log.error({ consumer: name, err: (err as Error).message }, 'consumer restart failed; trying again');
        await consumer.disconnect().catch(() => {});
      }
    }
    relaunching = false;
  };
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || stopped) return;
    log.error({ consumer: name, err: payload.error.message }, 'consumer stopped on a non-retriable error; restarting it');
    void relaunch();
  });
  await consumer.run(run);
  return { stop: () => { stopped = true; }, restarts: () => restarts };
}
