/**
 * Runs long work (download, verify, import, export) as jobs: recorded in the store,
 * cancellable, reporting progress as events. A job does not depend on the client that
 * started it: it goes on when that client disconnects.
 */
import type { Event, FailureReason, Job, JobKind, JobProgress, TrainUpdate } from '../../shared/protocol.ts';
import type { Store } from '../store/store.ts';
import { DaemonError } from './errors.ts';

export interface JobContext {
  readonly jobId: number;
  readonly signal: AbortSignal;
  readonly progress: JobProgress;
  /** Publishes progress; frequent calls are coalesced. */
  report(): void;
  imageFailed(imageId: number, url: string, reason: FailureReason, detail: string | null): void;
  /** Streams what a training job is doing (epochs, losses, LR finder points). */
  trainUpdate(update: TrainUpdate): void;
}

export type JobWork = (ctx: JobContext) => Promise<void>;

const PROGRESS_INTERVAL_MS = 200;

export class JobRunner {
  private readonly running = new Map<number, { controller: AbortController; datasetId: number; done: Promise<void> }>();
  private shuttingDown = false;

  constructor(
    private readonly store: Store,
    private readonly emit: (event: Event) => void,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Starts a job; one job at a time per dataset, since they all change its images. */
  start(datasetId: number, kind: JobKind, params: unknown, work: JobWork): Job {
    for (const [id, entry] of this.running) {
      if (entry.datasetId === datasetId) {
        const other = this.store.getJob(id);
        throw new DaemonError('conflict', `a ${other.kind} job (#${id}) is already running on dataset "${other.dataset}"`, { jobId: id });
      }
    }
    const job = this.store.createJob(datasetId, kind, params);
    const controller = new AbortController();
    const progress: JobProgress = { ...job.progress };
    let lastReport = 0;
    let pendingReport: NodeJS.Timeout | undefined;
    const publish = (): void => {
      pendingReport = undefined;
      lastReport = Date.now();
      let current: Job;
      try {
        current = this.store.updateJob(job.id, { progress });
      } catch (err) {
        // A store that cannot take the progress (a full disk) must not take the daemon down with it.
        this.log(`job ${job.id}: could not record progress: ${describeJobError(err)}`);
        current = { ...this.store.getJob(job.id), progress: { ...progress } };
      }
      this.emit({ kind: 'job.progress', job: current });
    };
    const ctx: JobContext = {
      jobId: job.id,
      signal: controller.signal,
      progress,
      report: () => {
        if (pendingReport) return;
        const wait = Math.max(0, lastReport + PROGRESS_INTERVAL_MS - Date.now());
        pendingReport = setTimeout(publish, wait);
      },
      imageFailed: (imageId, url, reason, detail) => this.emit({ kind: 'image.failed', jobId: job.id, imageId, url, reason, detail }),
      trainUpdate: (update) => this.emit({ kind: 'train.update', jobId: job.id, update }),
    };

    const done = (async () => {
      try {
        this.store.updateJob(job.id, { state: 'running' });
      } catch (err) {
        this.log(`job ${job.id}: could not record its start: ${describeJobError(err)}`);
      }
      let state: Job['state'] = 'done';
      let error: string | null = null;
      try {
        await work(ctx);
        if (controller.signal.aborted) state = this.shuttingDown ? 'interrupted' : 'cancelled';
      } catch (err) {
        state = controller.signal.aborted ? (this.shuttingDown ? 'interrupted' : 'cancelled') : 'failed';
        error = describeJobError(err);
        this.log(`job ${job.id} (${kind}) failed: ${error}`);
      } finally {
        clearTimeout(pendingReport);
        this.running.delete(job.id);
      }
      let finished: Job;
      try {
        finished = this.store.updateJob(job.id, { state, progress, error });
      } catch (err) {
        this.log(`job ${job.id}: could not record its end: ${describeJobError(err)}`);
        finished = { ...this.store.getJob(job.id), state, progress: { ...progress }, error };
      }
      this.emit({ kind: 'job.finished', job: finished });
    })();
    this.running.set(job.id, { controller, datasetId, done });
    return this.store.getJob(job.id);
  }

  cancel(jobId: number): Job {
    const entry = this.running.get(jobId);
    if (!entry) {
      const job = this.store.getJob(jobId);
      throw new DaemonError('conflict', `job ${jobId} is not running (it is ${job.state})`);
    }
    entry.controller.abort();
    return this.store.getJob(jobId);
  }

  activeJobIds(): number[] {
    return [...this.running.keys()];
  }

  /** Resolves when the given job (or every running job) has finished. */
  async settle(jobId?: number): Promise<void> {
    const entries = jobId === undefined ? [...this.running.values()] : [this.running.get(jobId)].filter((e) => e !== undefined);
    await Promise.all(entries.map((e) => e.done));
  }

  /** Stops every job for a shutdown: they end as interrupted, to be run again after the restart. */
  async stopAll(): Promise<void> {
    this.shuttingDown = true;
    for (const entry of this.running.values()) entry.controller.abort();
    await this.settle();
  }
}

/** The words a user needs for an error that ended a job. */
export function describeJobError(err: unknown): string {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT') {
    return 'the disk holding the data directory is full: free some space, then run the job again (what was stored before is kept)';
  }
  if (code === 'EROFS' || code === 'SQLITE_READONLY') return 'the data directory is read-only: Teddy cannot store anything there';
  return err instanceof Error ? err.message : String(err);
}
