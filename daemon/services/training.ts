/**
 * Training jobs: the store's dataset handed to the engine as plain items, the engine's
 * events turned into protocol updates, the result kept as a report and a model record.
 * The engine itself knows nothing of this.
 */
import { basename, dirname, join, relative } from 'node:path';
import type { Dataset, LrFindCurve, Metrics, StageReport, TrainingReport, TrainOptions, TrainUpdate } from '../../shared/protocol.ts';
import {
  BackboneUnavailableError,
  FeatureCache,
  initBackend,
  Learner,
  loadBackbone,
  loadStage,
  runLessonSchedule,
  type BackendStatus,
  type DatasetItem,
  type EngineEvent,
  type FitResult,
  type LearnerOptions,
  type LoadedBackbone,
  type LrFindResult,
} from '../engine/index.ts';
import { OnnxBodyRunner } from '../engine/onnx/body-runner.ts';
import type { FileStore } from '../store/files.ts';
import type { ModelRecord, Store } from '../store/store.ts';
import { DaemonError } from './errors.ts';
import type { JobContext } from './jobRunner.ts';

/** Batch and LR-finder updates sent per second at most; the report keeps every point. */
const UPDATES_PER_SECOND = 5;

export interface TrainingDeps {
  store: Store;
  files: FileStore;
  dataDir: string;
  /** Shared across jobs so that a refit after cleaning skips the body for unchanged images. */
  featureCache: FeatureCache;
  backboneId: string;
  /** Folder with already-present backbones (TEDDY_MODEL_DIR); the model cache is tried first. */
  modelDir?: string | undefined;
  /** Told of every model recorded for a dataset, so that clients can drop predictions of the previous one. */
  onModel: (dataset: string, modelId: number) => void;
  /**
   * Reports of the trainings under way, by job id: the streamed updates are thinned and a
   * client that looks in mid-run has missed the earlier ones, so the daemon keeps every point.
   */
  liveReports: Map<number, TrainingReport>;
}

export function createFeatureCache(dataDir: string): FeatureCache {
  return new FeatureCache(join(dataDir, 'cache', 'features'));
}

/** Where downloaded and imported backbones are kept, under the data directory. */
export function backboneCacheDir(dataDir: string): string {
  return join(dataDir, 'models', 'backbones');
}

/** The frozen body on onnxruntime when it loads (else tfjs in this thread, as before); the caller closes it. */
export async function onnxBody(backbone: LoadedBackbone): Promise<{ runner: OnnxBodyRunner | undefined; note: string }> {
  const made = await OnnxBodyRunner.create(backbone.body);
  return made.runner ? { runner: made.runner, note: `frozen body on ${made.runner.description}` } : { runner: undefined, note: `frozen body on tfjs (${made.reason})` };
}

/** Loads a recorded model's stage folder (`<dir>/<stage>`) into a learner. */
export async function loadRecordedModel(learner: Learner, dataDir: string, model: ModelRecord): Promise<void> {
  const path = join(dataDir, model.path);
  await loadStage(learner, dirname(path), basename(path));
}

export function datasetItems(deps: TrainingDeps, datasetId: number): DatasetItem[] {
  const { images } = deps.store.listImages(datasetId, { status: ['ok'] });
  return images
    .filter((i): i is typeof i & { file: string; split: 'train' | 'valid' } => i.file !== null && i.split !== null)
    .map((i) => ({ file: deps.files.absolute(i.file), label: i.className, split: i.split }));
}

function checkTrainable(items: DatasetItem[]): void {
  const trainClasses = new Set(items.filter((i) => i.split === 'train').map((i) => i.label));
  if (trainClasses.size < 2) {
    throw new DaemonError('invalid_params', `training needs downloaded images of at least two classes; this dataset has ${trainClasses.size}`);
  }
  if (!items.some((i) => i.split === 'valid')) {
    throw new DaemonError('invalid_params', 'training needs a validation set; add more images (20% of them are held out)');
  }
}

export async function backboneFor(deps: TrainingDeps, signal: AbortSignal): Promise<LoadedBackbone> {
  try {
    // A fresh copy per job: stage 2 changes the body's weights in place.
    return await loadBackbone(deps.backboneId, { cacheDir: backboneCacheDir(deps.dataDir), modelDir: deps.modelDir, signal });
  } catch (err) {
    if (err instanceof BackboneUnavailableError) throw new DaemonError('not_found', err.message);
    throw err;
  }
}

/** What a learner needs beyond the parts every job shares (backbone, feature cache, body runner). */
export type JobLearnerOptions = Omit<LearnerOptions, 'backbone' | 'featureCache' | 'bodyPool'>;

/**
 * Runs `use` with a learner on a fresh backbone, its frozen body on onnxruntime when that
 * loads, and releases all three however `use` ends: a leaked backbone or runner holds its
 * tensors and worker threads until the daemon stops. `prepare` gets the runner's note.
 */
export async function withLearner<T>(
  deps: TrainingDeps,
  signal: AbortSignal,
  prepare: (onnxNote: string) => JobLearnerOptions,
  use: (learner: Learner, backbone: LoadedBackbone) => Promise<T>,
): Promise<T> {
  const backbone = await backboneFor(deps, signal);
  const onnx = await onnxBody(backbone);
  const learner = new Learner({
    ...prepare(onnx.note),
    backbone,
    featureCache: deps.featureCache,
    ...(onnx.runner ? { bodyPool: onnx.runner } : {}),
  });
  try {
    return await use(learner, backbone);
  } finally {
    learner.dispose();
    await onnx.runner?.close();
    backbone.full.dispose();
  }
}

/** The opening every training job shares: a dataset that can be trained and the backend that will do it. */
async function trainableDataset(deps: TrainingDeps, datasetId: number): Promise<{ dataset: Dataset; items: DatasetItem[]; status: BackendStatus }> {
  const dataset = deps.store.getDatasetById(datasetId);
  const items = datasetItems(deps, datasetId);
  checkTrainable(items);
  return { dataset, items, status: await initBackend() };
}

/** Turns engine events into protocol updates, thinning the per-batch ones. */
class UpdateRelay {
  stage = 'stage-1';
  private lastSent = 0;

  constructor(
    private readonly ctx: JobContext,
    private readonly send: (update: TrainUpdate) => void,
  ) {}

  private throttled(update: TrainUpdate, last: boolean): void {
    const now = Date.now();
    if (!last && now - this.lastSent < 1000 / UPDATES_PER_SECOND) return;
    this.lastSent = now;
    this.send(update);
  }

  readonly onEvent = (event: EngineEvent): void => {
    switch (event.type) {
      case 'phase':
        if (event.phase === 'stage-1' || event.phase === 'stage-2') this.stage = event.phase;
        this.send({ type: 'phase', phase: event.phase, message: event.message });
        break;
      case 'warning':
        this.send({ type: 'phase', phase: 'warning', message: event.file ? `${event.file}: ${event.message}` : event.message });
        break;
      case 'features':
        this.throttled({ type: 'features', done: event.done, total: event.total }, event.done === event.total);
        break;
      case 'batch':
        this.throttled(
          { type: 'batch', stage: this.stage, iteration: event.record.iteration, totalIterations: event.totalIterations, loss: event.record.smoothedLoss, lr: event.record.lr },
          event.record.iteration + 1 >= event.totalIterations,
        );
        break;
      case 'epoch':
        this.ctx.progress.done++;
        this.ctx.report();
        this.send({ type: 'epoch', stage: this.stage, row: event.row, totalEpochs: event.totalEpochs });
        break;
      case 'lr-find':
        this.throttled(
          { type: 'lr-find', iteration: event.iteration, totalIterations: event.totalIterations, lr: event.lr, loss: event.smoothedLoss },
          event.iteration + 1 >= event.totalIterations,
        );
        break;
      case 'diagnosis':
        this.send({ type: 'diagnosis', stage: this.stage, diagnoses: event.diagnoses });
        break;
    }
  };
}

/** Fills a training's partial report from the engine's events, unthinned, as the final report would hold them. */
class LiveReport {
  constructor(
    readonly report: TrainingReport,
    private readonly epochsOf: (stage: string) => number,
  ) {}

  private stage(name: string): StageReport {
    let stage = this.report.stages.find((s) => s.name === name);
    if (!stage) {
      // The max LR of stage 2 comes from the LR finder, known to the schedule only: the highest rate seen stands in for it.
      stage = { name, epochs: this.epochsOf(name), maxLr: 0, rows: [], losses: [], diagnoses: [], seconds: 0 };
      this.report.stages.push(stage);
    }
    return stage;
  }

  record(stageName: string, event: EngineEvent): void {
    switch (event.type) {
      case 'batch': {
        const stage = this.stage(stageName);
        stage.losses.push({ iteration: event.record.iteration, loss: event.record.smoothedLoss, lr: event.record.lr });
        if (typeof stage.maxLr === 'number') stage.maxLr = Math.max(stage.maxLr, event.record.lr);
        break;
      }
      case 'epoch': {
        const stage = this.stage(stageName);
        stage.rows.push(event.row);
        stage.seconds += event.row.seconds;
        break;
      }
      case 'diagnosis':
        this.stage(stageName).diagnoses = event.diagnoses;
        break;
    }
  }
}

function stageReport(name: string, epochs: number, maxLr: number | [number, number], fit: FitResult): StageReport {
  return {
    name,
    epochs,
    maxLr,
    rows: fit.rows,
    losses: fit.batches.map((b) => ({ iteration: b.iteration, loss: b.smoothedLoss, lr: b.lr })),
    diagnoses: fit.diagnoses,
    seconds: fit.seconds,
  };
}

function curve(found: LrFindResult, unfrozen: boolean): LrFindCurve {
  return {
    lrs: found.lrs,
    losses: found.losses,
    smoothedLosses: found.smoothedLosses,
    suggestedLr: found.suggestedLr,
    rule: found.rule,
    stoppedEarly: found.stoppedEarly,
    unfrozen,
  };
}

export async function runTraining(
  deps: TrainingDeps,
  ctx: JobContext,
  datasetId: number,
  options: TrainOptions,
  send: (update: TrainUpdate) => void,
): Promise<TrainingReport> {
  const { dataset, items, status } = await trainableDataset(deps, datasetId);
  const stage2 = options.stage2 === 'on' || (options.stage2 === 'auto' && status.canTrainBody);
  if (options.stage2 === 'on' && !status.canTrainBody) {
    throw new DaemonError('invalid_params', `stage 2 needs a backend that can train the body; ${status.reason}`);
  }
  ctx.progress.total = options.stage1Epochs + (stage2 ? options.stage2Epochs : 0);
  ctx.report();
  return withLearner(
    deps,
    ctx.signal,
    (onnxNote) => {
      send({ type: 'phase', phase: 'start', message: `backend ${status.backend}: ${status.reason}; ${onnxNote}` });
      return { items, seed: dataset.splitSeed, augmentDraws: options.augmentDraws, batchSize: options.batchSize };
    },
    async (learner, backbone) => {
      const relay = new UpdateRelay(ctx, send);
      const header = {
        jobId: ctx.jobId,
        dataset: dataset.name,
        createdAt: new Date().toISOString(),
        backend: status.backend,
        backbone: backbone.spec.id,
        classes: learner.classes.slice(),
        trainImages: items.filter((i) => i.split === 'train').length,
        validImages: items.filter((i) => i.split === 'valid').length,
      };
      const live = new LiveReport(
        { ...header, stages: [], lrFind: null, stage2Skipped: null, final: null },
        (stage) => (stage === 'stage-2' ? options.stage2Epochs : options.stage1Epochs),
      );
      deps.liveReports.set(ctx.jobId, live.report);
      const stageDir = join(deps.dataDir, 'models', `dataset-${datasetId}`, `job-${ctx.jobId}`);
      try {
        const lesson = await runLessonSchedule(learner, {
          stageDir,
          canTrainBody: status.canTrainBody,
          ...(stage2 ? {} : { skipStage2: options.stage2 === 'off' ? 'stage 2 was switched off for this training' : `stage 2 needs a backend that can train the body: ${status.reason}` }),
          stage1Epochs: options.stage1Epochs,
          stage1Lr: options.stage1Lr,
          stage2Epochs: options.stage2Epochs,
          lrFindIterations: options.lrFindIterations,
          signal: ctx.signal,
          onEvent: (event) => {
            relay.onEvent(event);
            live.record(relay.stage, event);
          },
        });
        const stages = [stageReport('stage-1', options.stage1Epochs, options.stage1Lr, lesson.stage1)];
        if (lesson.stage2 && lesson.stage2Lrs) stages.push(stageReport('stage-2', options.stage2Epochs, lesson.stage2Lrs, lesson.stage2));
        const last = stages.at(-1)!.rows.at(-1);
        const final: Metrics | null = last ? { errorRate: last.errorRate, validLoss: last.validLoss, accuracy: last.accuracy } : null;
        const report: TrainingReport = {
          ...header,
          createdAt: new Date().toISOString(),
          stages,
          lrFind: lesson.lrFind ? curve(lesson.lrFind, true) : null,
          stage2Skipped: lesson.stage2Skipped,
          final,
        };
        deps.store.setJobResult(ctx.jobId, report);
        const model = deps.store.addModel({
          datasetId,
          jobId: ctx.jobId,
          path: relative(deps.dataDir, lesson.stage2Path ?? lesson.stage1Path),
          backbone: backbone.spec.id,
          classes: learner.classes.slice(),
          metrics: final,
        });
        deps.onModel(dataset.name, model.id);
        return report;
      } finally {
        deps.liveReports.delete(ctx.jobId);
      }
    },
  );
}

export async function runLrFind(
  deps: TrainingDeps,
  ctx: JobContext,
  datasetId: number,
  params: { unfrozen: boolean; iterations: number },
  send: (update: TrainUpdate) => void,
): Promise<LrFindCurve> {
  const { dataset, items, status } = await trainableDataset(deps, datasetId);
  if (params.unfrozen && !status.canTrainBody) {
    throw new DaemonError('invalid_params', `an unfrozen LR finder needs a backend that can train the body; ${status.reason}`);
  }
  ctx.progress.total = params.iterations;
  let model: ModelRecord | undefined;
  return withLearner(
    deps,
    ctx.signal,
    () => {
      // Read late: a training that finished while the backbone loaded is the one to sweep from.
      model = deps.store.latestModel(datasetId);
      const classes = model?.classes ?? [...new Set(items.map((i) => i.label))].sort();
      return { items: items.filter((i) => classes.includes(i.label)), classes, seed: dataset.splitSeed };
    },
    async (learner) => {
      const relay = new UpdateRelay(ctx, send);
      if (model) {
        // Like the lesson: the finder runs from the trained model (stage 1), not from scratch.
        await loadRecordedModel(learner, deps.dataDir, model);
        send({ type: 'phase', phase: 'load', message: `loaded ${model.path}` });
      }
      if (params.unfrozen) learner.unfreeze();
      else learner.freeze();
      const found = await learner.lrFind({
        iterations: params.iterations,
        signal: ctx.signal,
        onEvent: (event) => {
          if (event.type === 'lr-find') {
            ctx.progress.done = event.iteration + 1;
            ctx.report();
          }
          relay.onEvent(event);
        },
      });
      const result = curve(found, params.unfrozen);
      deps.store.setJobResult(ctx.jobId, { lrFind: result });
      return result;
    },
  );
}
