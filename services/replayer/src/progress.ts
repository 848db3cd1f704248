// A progress bar with rate and ETA on a terminal; silent when stderr is not a TTY or the
// output is JSON, so pipes and scripts get only the result.
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  start(total: number): void;
  increment(n: number): void;
  stop(): void;
}

export function progress(label: string, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return { start() {}, increment() {}, stop() {} };
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} records | {rate}/s | ETA {eta_formatted}`,
    stream: process.stderr, hideCursor: true, etaBuffer: 50,
  }, Presets.shades_classic);
  const t0 = performance.now();
  let done = 0;
  return {
    start(total) { bar.start(total, 0, { rate: 0 }); },
    increment(n) {
      done += n;
      bar.increment(n, { rate: Math.round(done / Math.max(0.001, (performance.now() - t0) / 1000)) });
    },
    stop() { bar.stop(); },
  };
}
