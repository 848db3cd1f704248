// Runs one partition's records concurrently and commits only the contiguous prefix of
// finished ones, so a crash repeats work and never skips it. With `ordered`, records of
// one key run one after another (a key waiting for a retry holds back only that key);
// other keys, and every record of an unordered destination, run side by side up to
// `concurrency` attempts at a time. `maxPending` bounds what is held in memory: when it
// is reached the caller stops feeding the partition (backpressure) until records finish.

export interface TaskContext {
  /** Aborted when the partition is revoked or the process shuts down. */
  signal: AbortSignal;
  /** Runs fn in one of the partition's attempt slots (a waiting retry holds none). */
  slot<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Ordered: the destination has this record for good (delivered and marked), so the next
   * record of its key may start while this one finishes its bookkeeping (the attempt
   * record's Kafka ack). The record is still committed only when the task ends.
   */
  releaseKey(): void;
}

export type Task = (ctx: TaskContext) => Promise<void>;

export interface PartitionWorkerOptions {
  concurrency: number;
  maxPending: number;
  ordered: boolean;
  /** Commits `nextOffset` (the first unfinished offset) for the partition. */
  commit(nextOffset: number): Promise<void>;
  /** A task threw (infrastructure down): it is run again after `retryDelayMs`. */
  onTaskError(err: unknown, offset: number): void;
  retryDelayMs?: number;
  signal: AbortSignal;
}

const SPAN_FACTOR = 50;
const noop = (): void => {};

export class PartitionWorker {
  private readonly opts: PartitionWorkerOptions;
  private readonly abort = new AbortController();
  readonly signal: AbortSignal;
  /** Offsets taken and not yet committed past, ascending. */
  private readonly queue: number[] = [];
  /** Record timestamps, parallel to `queue`. */
  private readonly times: number[] = [];
  private head = 0;
  private readonly finished = new Set<number>();
  private readonly tails = new Map<string, Promise<void>>();
  private running = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private roomWaiters: (() => void)[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private committed = -1;
  /** The first offset not yet fetched, as far as this worker knows (-1: nothing seen). */
  private frontier = -1;
  private committing: Promise<void> | null = null;
  private commitError: unknown = null;

  constructor(opts: PartitionWorkerOptions) {
    this.opts = opts;
    this.signal = AbortSignal.any([opts.signal, this.abort.signal]);
    this.signal.addEventListener('abort', () => {
      this.wakeRoom();
      for (const w of this.slotWaiters.splice(0)) w();
    }, { once: true });
  }

  /** Records taken and not finished (what holds payloads in memory). */
  get pending(): number {
    return this.queue.length - this.head - this.finished.size;
  }

  /**
   * Room for more: fewer than maxPending unfinished records, and a bounded span of
   * offsets behind the oldest unfinished one — finished records behind a long-waiting one
   * cost only their offset, so the span may be much longer (a per-key retry waiting for
   * minutes must not stop every other key of its partition).
   */
  hasRoom(): boolean {
    return this.pending < this.opts.maxPending && this.queue.length - this.head < this.opts.maxPending * SPAN_FACTOR;
  }

  /**
   * Room to resume a paused fetch: a quarter of maxPending free. Resuming at the first
   * free slot would fetch a whole batch to take one record from it, again and again, and
   * every such batch stays referenced while its record is pending.
   */
  private roomToResume(): boolean {
    const slack = Math.max(1, Math.floor(this.opts.maxPending / 4));
    return this.pending <= this.opts.maxPending - slack && this.queue.length - this.head < (this.opts.maxPending - slack) * SPAN_FACTOR;
  }

  /** Resolves when there is room, the worker is aborted, or after `ms`. */
  waitForRoom(ms: number): Promise<void> {
    if (this.hasRoom() || this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.roomWaiters.push(done);
    });
  }

  /** Calls fn once when there is room again (or the worker is aborted). */
  onRoom(fn: () => void): void {
    if (this.hasRoom() || this.signal.aborted) fn();
    else this.roomWaiters.push(fn);
  }

  /** Timestamp of the oldest unfinished record, if any. */
  oldestTimestamp(): number | null {
    return this.head < this.queue.length ? this.times[this.head]! : null;
  }

  push(offset: number, key: string, task: Task, timestamp = Date.now()): void {
    this.queue.push(offset);
    if (offset >= this.frontier) this.frontier = offset + 1;
    this.times.push(timestamp);
    if (!this.opts.ordered) {
      this.track(Promise.resolve().then(() => this.runUntilDone(offset, task, noop)));
      return;
    }
    let releaseKey = noop;
    const released = new Promise<void>((r) => { releaseKey = r; });
    const run = (this.tails.get(key) ?? Promise.resolve()).then(() => this.runUntilDone(offset, task, releaseKey));
    const tail = Promise.race([run, released]);
    this.tails.set(key, tail);
    void tail.then(() => { if (this.tails.get(key) === tail) this.tails.delete(key); });
    this.track(run);
  }

  private track(run: Promise<void>): void {
    this.inFlight.add(run);
    void run.then(() => this.inFlight.delete(run));
  }

  private async runUntilDone(offset: number, task: Task, releaseKey: () => void): Promise<void> {
    const ctx: TaskContext = { signal: this.signal, slot: (fn) => this.inSlot(fn), releaseKey };
    for (;;) {
      if (this.signal.aborted) return; // handed back: not finished, never committed
      try {
        await task(ctx);
        this.finish(offset);
        return;
      } catch (err) {
        if (this.signal.aborted) return;
        this.opts.onTaskError(err, offset);
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.opts.retryDelayMs ?? 1000);
          this.signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
        });
      }
    }
  }

  private async inSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= this.opts.concurrency && !this.signal.aborted) await new Promise<void>((r) => this.slotWaiters.push(r));
    // Stopping: what has not started is handed back, not begun.
    this.signal.throwIfAborted();
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.slotWaiters.shift()?.();
    }
  }

  private finish(offset: number): void {
    this.finished.add(offset);
    let moved = false;
    while (this.head < this.queue.length && this.finished.has(this.queue[this.head]!)) {
      this.finished.delete(this.queue[this.head]!);
      this.head++;
      moved = true;
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.times.splice(0, this.head);
      this.head = 0;
    }
    // Any finished record frees room (unfinished count), not only one at the head.
    if (this.roomWaiters.length > 0 && this.roomToResume()) this.wakeRoom();
    if (moved) void this.flushCommits().catch(() => {});
  }

  private wakeRoom(): void {
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const f of w) f();
  }

  /**
   * Offsets [from, to) were fetched and hold nothing to deliver: a transaction's commit
   * marker (the router writes one per partition per transaction), aborted records. Once
   * everything before them has finished, the commit moves past them. Without this a
   * partition whose last record is followed by a marker is committed at the marker and
   * reads one record behind for good: lag and "pending" never 0 on an idle destination.
   * Taken only where it joins what this worker has seen (a gap would skip records);
   * `knownNext`, the group's committed offset, vouches for a worker that has seen nothing.
   */
  skip(from: number, to: number, knownNext?: number): boolean {
    if (this.frontier < 0 && knownNext !== undefined) this.frontier = knownNext;
    if (this.frontier < 0 || from > this.frontier || to <= this.frontier) return false;
    this.frontier = to;
    if (this.head === this.queue.length) void this.flushCommits().catch(() => {});
    return true;
  }

  /** Whether this worker knows where its partition's fetching stands. */
  get seenAny(): boolean {
    return this.frontier >= 0;
  }

  /** The first offset not yet finished (what a commit may say). */
  private nextOffset(): number | null {
    if (this.head < this.queue.length) return this.queue[this.head]!;
    return this.frontier >= 0 ? this.frontier : null;
  }

  /** Commits the finished prefix; single-flight, and a no-op once the partition is revoked. */
  flushCommits(): Promise<void> {
    if (this.committing) return this.committing;
    this.committing = (async () => {
      try {
        for (;;) {
          const next = this.nextOffset();
          if (next === null || next <= this.committed || this.abort.signal.aborted) return;
          await this.opts.commit(next);
          this.committed = next;
        }
      } catch (err) {
        this.commitError = err;
        throw err;
      } finally {
        this.committing = null;
      }
    })();
    return this.committing;
  }

  get lastCommitError(): unknown {
    return this.commitError;
  }

  /** Waits for in-flight records up to `deadlineMs`, then commits what finished. */
  async drain(deadlineMs: number): Promise<{ unfinished: number }> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((r) => { timer = setTimeout(r, deadlineMs); }),
    ]);
    clearTimeout(timer);
    await this.flushCommits().catch(() => {});
    return { unfinished: this.pending };
  }

  /** The partition is no longer ours: stop waiting work and never commit again. */
  revoke(): void {
    this.abort.abort();
  }
}
