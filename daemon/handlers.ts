/**
 * What each request does: one handler per request type of the protocol, over the
 * store and the services. Transport (websocket, auth) lives in server.ts.
 */
import type { LrFindCurve, ParsedParams, RequestResult, RequestType, TrainingReport } from '../shared/protocol.ts';
import { PROTOCOL_VERSION } from '../shared/protocol.ts';
import type { DaemonConfig } from './config.ts';
import { checkUrl } from './net/fetcher.ts';
import { DaemonError } from './services/errors.ts';
import { runDownload } from './services/download.ts';
import { runExport, runImport } from './services/folderLayout.ts';
import type { JobRunner } from './services/jobRunner.ts';
import { datasetStats } from './services/stats.ts';
import { runVerify } from './services/verify.ts';
import { getBackendStatus } from './engine/index.ts';
import { onnxStatusLine } from './engine/onnx/runtime.ts';
import { backboneCacheDir, runLrFind, runTraining, type TrainingDeps } from './services/training.ts';
import { duplicateGroups, thumbnails } from './services/cleaning.ts';
import { exportModel, importModel, modelInfo } from './services/models.ts';
import { topK, type PredictionService } from './services/prediction/predictionService.ts';
import { importBackbone } from './engine/index.ts';
import { interpretationView, runInterpretation } from './services/interpretation.ts';
import type { FileStore } from './store/files.ts';
import type { Store } from './store/store.ts';
import { DAEMON_VERSION } from './version.ts';

export interface HandlerContext {
  config: DaemonConfig;
  store: Store;
  files: FileStore;
  jobs: JobRunner;
  startedAt: number;
  clientCount: () => number;
  training: TrainingDeps;
  predictions: PredictionService;
}

export type Handlers = {
  [T in Exclude<RequestType, 'hello'>]: (params: ParsedParams<T>, ctx: HandlerContext) => Promise<RequestResult<T>> | RequestResult<T>;
};

/** The protocol's engine status has no field for it: which runtime serves inference goes into `reason`. */
async function withInferenceRuntime<T extends { reason: string }>(engine: T | null): Promise<T | null> {
  return engine && { ...engine, reason: `${engine.reason}; ${await onnxStatusLine()}` };
}

export const handlers: Handlers = {
  status: async (_params, ctx) => ({
    daemonVersion: DAEMON_VERSION,
    protocolVersion: PROTOCOL_VERSION,
    dataDir: ctx.config.dataDir,
    pid: process.pid,
    uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
    clients: ctx.clientCount(),
    activeJobs: ctx.jobs.activeJobIds().map((id) => ctx.store.getJob(id)),
    engine: await withInferenceRuntime(getBackendStatus()),
  }),

  'dataset.create': (params, ctx) => ctx.store.createDataset(params.name, params.validPct, params.splitSeed),

  'dataset.list': (_params, ctx) => ({ datasets: ctx.store.listDatasets() }),

  'dataset.stats': (params, ctx) => datasetStats(ctx.store, params.dataset),

  'class.list': (params, ctx) => ({ classes: ctx.store.listClasses(ctx.store.getDataset(params.dataset).id) }),

  'class.create': (params, ctx) => ctx.store.ensureClass(ctx.store.getDataset(params.dataset).id, params.name),

  'urls.add': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const rejected: { url: string; reason: string }[] = [];
    const accepted = params.items.filter((item) => {
      // Only the shape is checked here; addresses are checked again when connecting.
      const checked = checkUrl(item.url, () => true);
      if (checked instanceof URL) return true;
      rejected.push({ url: item.url, reason: checked.detail });
      return false;
    });
    const { added, duplicates } = accepted.length ? ctx.store.addImages(dataset.id, accepted) : { added: 0, duplicates: 0 };
    return { added, duplicates, rejected };
  },

  'images.list': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const { images, total } = ctx.store.listImages(dataset.id, {
      ...(params.status ? { status: [params.status] } : {}),
      ...(params.className !== undefined ? { className: params.className } : {}),
      ...(params.split ? { split: params.split } : {}),
      limit: params.limit,
      offset: params.offset,
    });
    return { images: images.map(({ datasetId: _d, classId: _c, attempts: _a, ...image }) => image), total };
  },

  'images.trash': (params, ctx) => ({ trashed: ctx.store.trashImages(ctx.store.getDataset(params.dataset).id, params.ids) }),

  'images.restore': (params, ctx) => ({ restored: ctx.store.restoreImages(ctx.store.getDataset(params.dataset).id, params.ids) }),

  'images.relabel': (params, ctx) => ({
    relabelled: ctx.store.relabelImages(ctx.store.getDataset(params.dataset).id, params.ids, params.className),
  }),

  'images.review': (params, ctx) => ({ reviewed: ctx.store.markReviewed(ctx.store.getDataset(params.dataset).id, params.ids) }),

  'images.undo': (params, ctx) => ({ undone: ctx.store.undoLastClean(ctx.store.getDataset(params.dataset).id) ?? null }),

  'images.thumbnails': async (params, ctx) => ({
    thumbnails: await thumbnails(ctx.store, ctx.files, ctx.store.getDataset(params.dataset).id, params.ids, params.size),
  }),

  'dataset.duplicates': (params, ctx) => ({ groups: duplicateGroups(ctx.store, ctx.store.getDataset(params.dataset).id) }),

  'interpret.run': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    return {
      job: ctx.jobs.start(dataset.id, 'interpret', {}, async (job) => {
        await runInterpretation(ctx.training, job, dataset.id);
      }),
    };
  },

  'interpret.get': (params, ctx) => interpretationView(ctx.store, ctx.store.getDataset(params.dataset).id, params),

  'predict.urls': async (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const { model, classes, predictions } = await ctx.predictions.predictUrls(dataset.id, params.urls, params.topK);
    return { modelId: model.id, classes, predictions };
  },

  'predict.image': async (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const { model, classes, outcomes } = await ctx.predictions.predictImages(dataset.id, [Buffer.from(params.data, 'base64')]);
    const outcome = outcomes[0]!;
    if ('error' in outcome) throw new DaemonError('invalid_params', outcome.error);
    return { modelId: model.id, classes, top: topK(classes, outcome.probabilities, params.topK) };
  },

  'model.list': (params, ctx) => ({ models: ctx.store.listModels(ctx.store.getDataset(params.dataset).id).map(modelInfo) }),

  'model.export': (params, ctx) => exportModel(ctx.store, ctx.config.dataDir, ctx.store.getDataset(params.dataset).id, params.dir, params.modelId),

  'model.import': async (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const record = await importModel(ctx.store, ctx.config.dataDir, dataset.id, params.dir);
    ctx.training.onModel(dataset.name, record.id);
    return { model: modelInfo(record) };
  },

  'backbone.import': async (params, ctx) => {
    try {
      return await importBackbone(params.dir, { cacheDir: backboneCacheDir(ctx.config.dataDir), ...(params.id ? { id: params.id } : {}) });
    } catch (err) {
      throw new DaemonError('invalid_params', (err as Error).message);
    }
  },

  'job.download': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const deps = { store: ctx.store, files: ctx.files, images: ctx.config.images, download: ctx.config.download };
    const retryFailed = params.retryFailed ?? false;
    return { job: ctx.jobs.start(dataset.id, 'download', { retryFailed }, (job) => runDownload(deps, job, dataset.id, retryFailed)) };
  },

  'job.verify': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const deps = { store: ctx.store, files: ctx.files, images: ctx.config.images };
    return { job: ctx.jobs.start(dataset.id, 'verify', {}, (job) => runVerify(deps, job, dataset.id)) };
  },

  'job.import': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const deps = { store: ctx.store, files: ctx.files, images: ctx.config.images };
    return { job: ctx.jobs.start(dataset.id, 'import', { dir: params.dir }, (job) => runImport(deps, job, dataset.id, params.dir)) };
  },

  'job.export': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const deps = { store: ctx.store, files: ctx.files, images: ctx.config.images };
    return { job: ctx.jobs.start(dataset.id, 'export', { dir: params.dir }, (job) => runExport(deps, job, dataset.id, params.dir)) };
  },

  'train.start': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    return {
      job: ctx.jobs.start(dataset.id, 'train', params.options, async (job) => {
        await runTraining(ctx.training, job, dataset.id, params.options, job.trainUpdate);
      }),
    };
  },

  'train.lrFind': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const options = { unfrozen: params.unfrozen, iterations: params.iterations };
    return {
      job: ctx.jobs.start(dataset.id, 'lr-find', options, async (job) => {
        await runLrFind(ctx.training, job, dataset.id, options, job.trainUpdate);
      }),
    };
  },

  'train.report': (params, ctx) => {
    const dataset = ctx.store.getDataset(params.dataset);
    const live =
      params.jobId !== undefined
        ? ctx.training.liveReports.get(params.jobId)
        : [...ctx.training.liveReports.values()].filter((r) => r.dataset === dataset.name).sort((a, b) => b.jobId - a.jobId)[0];
    if (live && live.dataset === dataset.name) {
      // A copy: the training goes on filling the original while this one is on its way.
      return { report: structuredClone(live), lrFind: null, running: true };
    }
    const job = params.jobId !== undefined ? ctx.store.getJob(params.jobId) : ctx.store.latestJobWithResult(dataset.id, 'train');
    const report = job && job.kind === 'train' ? (ctx.store.jobResult(job.id) as TrainingReport | null) : null;
    const lrJob = ctx.store.latestJobWithResult(dataset.id, 'lr-find');
    const lrFind = lrJob && (!job || lrJob.id > job.id) ? (ctx.store.jobResult(lrJob.id) as { lrFind: LrFindCurve }).lrFind : (report?.lrFind ?? null);
    return { report, lrFind };
  },

  'job.get': (params, ctx) => ({ job: ctx.store.getJob(params.jobId) }),

  'job.list': (params, ctx) => ({
    jobs: ctx.store.listJobs(params.dataset !== undefined ? ctx.store.getDataset(params.dataset).id : undefined),
  }),

  'job.cancel': (params, ctx) => ({ job: ctx.jobs.cancel(params.jobId) }),
};
