// The whole pipeline in this process for a test: ingress, router, deliverer and the console
// built from one config on the test stack, started and ready; close() in that order.
import type { Config } from '@hookyard/core';
import type { StackAddresses } from '../../scripts/infra/local-stack.ts';
import { buildConsole, type Console } from '../../services/console/src/app.ts';
import { buildDeliverer } from '../../services/deliverer/src/app.ts';
import { buildIngress } from '../../services/ingress/src/app.ts';
import { buildRouter } from '../../services/router/src/app.ts';
import { quietLog, runtimeFor, whenReady } from './stack.ts';

export interface Pipeline {
  ingressUrl: string;
  consoleUrl: string;
  console: Console;
  close(): Promise<void>;
}

/** The deliverer may take its drain time (25 s by default) and its commits. */
const CLOSE_MS = 45_000;

async function closedWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); });
  const done = await Promise.race([p.then(() => true, () => true), late]);
  clearTimeout(timer);
  return done;
}

export async function startPipeline(a: StackAddresses, config: Config): Promise<Pipeline> {
  const env = runtimeFor(a);
  const ingress = buildIngress({ config, env, log: quietLog });
  const router = buildRouter({ config, env, log: quietLog });
  const deliverer = buildDeliverer({ config, env, log: quietLog });
  const console_ = buildConsole({ config, env, log: quietLog });
  const close = async () => {
    const hung: string[] = [];
    for (const [name, s] of [['ingress', ingress], ['router', router], ['deliverer', deliverer], ['console', console_]] as const) {
      if (!(await closedWithin(s.close(), CLOSE_MS))) hung.push(name);
    }
    if (hung.length > 0) {
      // A service that does not close keeps this test process alive after its last test:
      // the runner times the file out (300 s) and leaves the process running beside the
      // next files. Say which, fail, and end the process once its tests have reported.
      console.error(`pipeline: ${hung.join(', ')} did not close within ${CLOSE_MS / 1000} s`);
      setTimeout(() => process.exit(1), 10_000).unref();
      throw new Error(`${hung.join(', ')} did not close within ${CLOSE_MS / 1000} s`);
    }
  };
  try {
    const ingressUrl = await whenReady(await ingress.start({ port: 0, host: '127.0.0.1' }));
    await router.start();
    await deliverer.start();
    const consoleUrl = await whenReady(await console_.start({ port: 0, host: '127.0.0.1' }));
    return { ingressUrl, consoleUrl, console: console_, close };
  } catch (err) {
    await close();
    throw err;
  }
}
