// What an operator can do from the console, through the same code as the CLI (replay, dlq
// redrive, destination pause/resume/reset-breaker in services/replayer), so a button and a
// command do exactly the same thing. Bulk work runs as a job with progress.
import { randomUUID } from 'node:crypto';
import { eventIdTime, type Config, type RuntimeEnv } from '@hookyard/core';
import { createContext, type CliContext } from '../../../replayer/src/context.ts';
import { destination, type DestinationStatus } from '../../../replayer/src/commands/destination.ts';
import { dlq, type DlqSummary } from '../../../replayer/src/commands/dlq.ts';
import { replay, type ReplaySummary } from '../../../replayer/src/commands/replay.ts';

export interface Job {
  id: string;
  title: string;
  user: string;
  startedAt: number;
  state: 'running' | 'done' | 'failed';
  /** Records to scan and scanned so far (Kafka records, as the CLI's progress bar counts). */
  total: number;
  done: number;
  notes: string[];
  result: ReplaySummary | DlqSummary | null;
  error: string | null;
}

export class Operations {
  private ctx: CliContext | undefined;
  private readonly jobs = new Map<string, Job>();
  private readonly config: Config;
  private readonly env: RuntimeEnv;

  constructor(config: Config, env: RuntimeEnv) {
    this.config = config;
    this.env = env;
  }

  /** One context for the console's life; a job's notes go to that job. */
  private context(notes?: string[]): CliContext {
    this.ctx ??= createContext(this.config, this.env, { line: () => {}, note: () => {} });
    return notes ? { ...this.ctx, out: { line: () => {}, note: (t) => { if (notes.length < 200) notes.push(t); } } } : this.ctx;
  }

  destinations(names = this.config.destinations.map((d) => d.name)): Promise<DestinationStatus[]> {
    return destination(this.context(), { action: 'status', names, reason: undefined, json: true });
  }

  async setDestination(action: 'pause' | 'resume' | 'reset-breaker', name: string, reason: string | undefined): Promise<DestinationStatus> {
    const [s] = await destination(this.context(), { action, names: [name], reason, json: true });
    return s!;
  }

  /** One event again, now: to one destination (retry) or through today's routes (replay). */
  async replayEvent(eventId: string, dest: string | undefined): Promise<ReplaySummary> {
    const t = eventIdTime(eventId)!;
    return replay(this.context(), {
      from: t, to: t + 1, sources: [], destination: dest, eventIds: [eventId], route: true, force: true, rate: undefined, dryRun: false, json: true,
    });
  }

  replayRange(o: { from: number; to: number; sources: string[]; destination: string | undefined; eventIds?: string[]; dryRun: boolean }, job?: Job): Promise<ReplaySummary> {
    return replay(this.context(job?.notes), {
      from: o.from, to: o.to, sources: o.sources, destination: o.destination, eventIds: o.eventIds ?? [], route: true, force: (o.eventIds ?? []).length > 0,
      rate: undefined, dryRun: o.dryRun, json: true, progress: job && progressOf(job),
    });
  }

  /** Dead letters in the window; with `eventIds`, only those events' (an empty list: all). */
  redrive(o: { destination: string | undefined; from: number; to: number; eventIds?: string[]; dryRun: boolean }, job?: Job): Promise<DlqSummary> {
    return dlq(this.context(job?.notes), { action: 'redrive', destination: o.destination, from: o.from, to: o.to, eventIds: o.eventIds ?? [], rate: undefined, dryRun: o.dryRun, json: true, progress: job && progressOf(job) });
  }

  /** Starts work in the background; its page polls job(id). */
  start(title: string, user: string, run: (job: Job) => Promise<ReplaySummary | DlqSummary>, onEnd: (job: Job) => void): Job {
    const job: Job = { id: randomUUID(), title, user, startedAt: Date.now(), state: 'running', total: 0, done: 0, notes: [], result: null, error: null };
    this.jobs.set(job.id, job);
    // Finished jobs are kept for the page to show; the oldest go beyond 100.
    if (this.jobs.size > 100) this.jobs.delete(this.jobs.keys().next().value!);
    run(job).then(
      (r) => { job.result = r; job.state = 'done'; onEnd(job); },
      (err: unknown) => { job.error = (err as Error).message; job.state = 'failed'; onEnd(job); },
    );
    return job;
  }

  job(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  recentJobs(): Job[] {
    return [...this.jobs.values()].reverse().slice(0, 20);
  }

  async close(): Promise<void> {
    await this.ctx?.close();
  }
}

function progressOf(job: Job) {
  return { start: (total: number) => { job.total = total; }, increment: (n: number) => { job.done += n; }, stop: () => {} };
}
