/**
 * Predictions for the overlay, `predict` and the classify API: the dataset's newest model,
 * loaded once in a worker thread and kept warm; requests from many clients are batched
 * together; results for a URL are cached per model.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pLimit from 'p-limit';
import type { TopK } from '../../../shared/protocol.ts';
import type { DownloadSettings } from '../../config.ts';
import { EXPORT_METADATA_FILE } from '../../engine/exported.ts';
import { fetchUrl } from '../../net/fetcher.ts';
import type { ModelRecord, Store } from '../../store/store.ts';
import { DaemonError } from '../errors.ts';
import { BurstGate } from './burst.ts';
import type { ImageOutcome, PredictionRuntime, PredictReply, PredictRequest } from './messages.ts';

const MAX_BATCH = 16;
/** How long a batch may wait for more requests of the same burst. */
const BATCH_WINDOW_MS = 2;
/** Images waiting for the worker at most; beyond, requests are refused as busy rather than queued without bound. */
const MAX_QUEUED = 4096;
const URL_CACHE_ENTRIES = 5000;

interface Queued {
  modelPath: string;
  modelKind: 'stage' | 'export';
  image: Buffer;
  resolve: (value: { classes: string[]; outcome: ImageOutcome }) => void;
  reject: (err: Error) => void;
}

export interface PredictionOutcome {
  top: TopK | null;
  error: string | null;
}

export function topK(classes: string[], probabilities: number[], k: number): TopK {
  return classes
    .map((className, i) => ({ className, probability: probabilities[i] ?? 0 }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}

export class PredictionService {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly inFlight = new Map<number, { batch: Queued[] }>();
  private queue: Queued[] = [];
  private readonly gate = new BurstGate(() => this.queue.length, () => this.flush(), { maxBatch: MAX_BATCH, windowMs: BATCH_WINDOW_MS });
  private readonly urlCache = new Map<string, PredictionOutcome & { classes: string[] }>();
  private readonly fetchLimit = pLimit(8);
  /** Forward time the worker reported, and images it scored: for the overhead benchmark. */
  readonly stats: { images: number; forwardMs: number; batches: number; runtime: PredictionRuntime | null } = { images: 0, forwardMs: 0, batches: 0, runtime: null };

  constructor(
    private readonly store: Store,
    private readonly dataDir: string,
    private readonly download: DownloadSettings,
  ) {}

  modelFor(datasetId: number): { record: ModelRecord; path: string; kind: 'stage' | 'export' } {
    const record = this.store.latestModel(datasetId);
    if (!record) throw new DaemonError('not_found', 'this dataset has no trained model yet: train it, or import a model');
    const path = join(this.dataDir, record.path);
    return { record, path, kind: existsSync(join(path, EXPORT_METADATA_FILE)) ? 'export' : 'stage' };
  }

  /** Scores images (their bytes) with the dataset's newest model. */
  async predictImages(datasetId: number, images: Buffer[]): Promise<{ model: ModelRecord; classes: string[]; outcomes: ImageOutcome[] }> {
    const { record, path, kind } = this.modelFor(datasetId);
    const results = await Promise.all(images.map((image) => this.enqueue(path, kind, image)));
    return { model: record, classes: results[0]?.classes ?? record.classes, outcomes: results.map((r) => r.outcome) };
  }

  /** Fetches (under the download rules) and scores image URLs; repeated URLs come from the cache. */
  async predictUrls(datasetId: number, urls: string[], k: number): Promise<{ model: ModelRecord; classes: string[]; predictions: (PredictionOutcome & { url: string })[] }> {
    const { record, path, kind } = this.modelFor(datasetId);
    let classes = record.classes;
    const predictions = await Promise.all(
      urls.map(async (url) => {
        const key = `${record.id}\u0000${url}`;
        const cached = this.urlCache.get(key);
        if (cached) return { url, top: cached.top?.slice(0, k) ?? null, error: cached.error };
        const fetched = await this.fetchLimit(() => fetchUrl(url, { ...this.download, retries: 0 }));
        let outcome: PredictionOutcome & { classes: string[] };
        if (!fetched.ok) outcome = { top: null, error: `${fetched.reason}: ${fetched.detail}`, classes };
        else {
          const scored = await this.enqueue(path, kind, fetched.data);
          classes = scored.classes;
          outcome =
            'error' in scored.outcome
              ? { top: null, error: scored.outcome.error, classes }
              : { top: topK(scored.classes, scored.outcome.probabilities, scored.classes.length), error: null, classes };
        }
        this.remember(key, outcome);
        return { url, top: outcome.top?.slice(0, k) ?? null, error: outcome.error };
      }),
    );
    return { model: record, classes, predictions };
  }

  private remember(key: string, outcome: PredictionOutcome & { classes: string[] }): void {
    this.urlCache.set(key, outcome);
    if (this.urlCache.size > URL_CACHE_ENTRIES) this.urlCache.delete(this.urlCache.keys().next().value!);
  }

  private enqueue(modelPath: string, modelKind: 'stage' | 'export', image: Buffer): Promise<{ classes: string[]; outcome: ImageOutcome }> {
    if (this.queue.length >= MAX_QUEUED) return Promise.reject(new DaemonError('busy', 'too many predictions waiting; try again in a moment'));
    return new Promise((resolve, reject) => {
      this.queue.push({ modelPath, modelKind, image, resolve, reject });
      this.gate.arrived();
    });
  }

  private flush(): void {
    // One batch at a time: the worker runs them in order anyway, and what waits meanwhile joins the next one.
    if (this.inFlight.size > 0 || this.queue.length === 0) return;
    const first = this.queue[0]!;
    const batch: Queued[] = [];
    const rest: Queued[] = [];
    for (const q of this.queue) (batch.length < MAX_BATCH && q.modelPath === first.modelPath ? batch : rest).push(q);
    this.queue = rest;
    const id = this.nextId++;
    this.inFlight.set(id, { batch });
    const request: PredictRequest = { id, modelPath: first.modelPath, modelKind: first.modelKind, images: batch.map((q) => q.image) };
    this.ensureWorker().postMessage(request);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./worker-entry.js', import.meta.url));
    worker.on('message', (reply: PredictReply) => this.onReply(reply));
    const fail = (err: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const { batch } of this.inFlight.values()) for (const q of batch) q.reject(new DaemonError('internal', `the prediction worker stopped: ${err.message}`));
      this.inFlight.clear();
      this.flush();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => code !== 0 && fail(new Error(`exit code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private onReply(reply: PredictReply): void {
    const entry = this.inFlight.get(reply.id);
    this.inFlight.delete(reply.id);
    if (entry) {
      if (reply.ok) {
        this.stats.batches++;
        this.stats.images += entry.batch.length;
        this.stats.forwardMs += reply.forwardMs;
        this.stats.runtime = reply.runtime;
        entry.batch.forEach((q, i) => q.resolve({ classes: reply.classes, outcome: reply.outcomes[i]! }));
      } else {
        for (const q of entry.batch) q.reject(new DaemonError('internal', `prediction failed: ${reply.error}`));
      }
    }
    this.flush();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
