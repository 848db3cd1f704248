// A bound on a step that has none of its own (a kafkajs call that retries for minutes, a
// connect): past the deadline it fails with what was being waited for, so the caller's
// retry starts afresh instead of hanging a batch — and with it close() — for good.
export class DeadlineExceeded extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer in ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
