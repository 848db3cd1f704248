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

export async function startPipeline(a: StackAddresses, config: Config): Promise<Pipeline> {
  const env = runtimeFor(a);
  const ingress = buildIngress({ config, env, log: quietLog });
  const router = buildRouter({ config, env, log: quietLog });
  const deliverer = buildDeliverer({ config, env, log: quietLog });
  const console_ = buildConsole({ config, env, log: quietLog });
  const close = async () => {
    for (const s of [ingress, router, deliverer, console_]) await s.close().catch(() => {});
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
