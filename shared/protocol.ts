/**
 * The Teddy wire protocol, spoken by the daemon, the CLI and the extension.
 *
 * Every frame is one JSON object. Clients send requests `{ id, type, ...params }`;
 * the daemon answers each with exactly one reply carrying the same `id`: either
 * `{ id, type: "<request type>.ok", result }` or `{ id, type: "error", error }`.
 * The daemon also pushes events `{ type: "event", event }` that carry no id.
 *
 * Schemas are runtime validators (zod) so that both ends check what crosses the
 * boundary instead of trusting it; the TypeScript types are derived from them.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;

/** Frames above this size are refused by the daemon before parsing. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Most URLs a single `urls.add` may carry; clients send larger lists in batches. */
export const MAX_URLS_PER_ADD = 2000;

// ---------------------------------------------------------------------------
// Shared value schemas

export const Name = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  // Names become folder names on export: refuse what could escape a folder or upset a filesystem.
  .refine((s) => !/[\\/\0]/.test(s) && s !== '.' && s !== '..', 'must not contain / or \\ or be . or ..')
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters');

export const DatasetRef = z.string().min(1).max(100);
export const Id = z.number().int().nonnegative();

export const ImageStatus = z.enum(['pending', 'ok', 'failed', 'duplicate', 'trashed']);
export type ImageStatus = z.infer<typeof ImageStatus>;

export const Split = z.enum(['train', 'valid']);
export type Split = z.infer<typeof Split>;

/** Why an image did not make it into the dataset. */
export const FailureReason = z.enum([
  'bad_url',
  'blocked_address',
  'http_status',
  'timeout',
  'too_large',
  'redirect_limit',
  'network',
  'not_an_image',
  'undecodable',
  'too_small',
  'too_many_pixels',
  'duplicate',
  'missing_file',
]);
export type FailureReason = z.infer<typeof FailureReason>;

export const JobKind = z.enum(['download', 'verify', 'import', 'export', 'train', 'lr-find', 'interpret']);
export type JobKind = z.infer<typeof JobKind>;
export const JobState = z.enum(['queued', 'running', 'done', 'failed', 'cancelled', 'interrupted']);
export type JobState = z.infer<typeof JobState>;

export const JobProgress = z.object({
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  ok: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});
export type JobProgress = z.infer<typeof JobProgress>;

export const Job = z.object({
  id: Id,
  dataset: z.string(),
  kind: JobKind,
  state: JobState,
  progress: JobProgress,
  error: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Job = z.infer<typeof Job>;

export const Dataset = z.object({
  id: Id,
  name: z.string(),
  validPct: z.number(),
  splitSeed: z.number().int(),
  createdAt: z.string(),
});
export type Dataset = z.infer<typeof Dataset>;

export const ClassInfo = z.object({ id: Id, name: z.string() });
export type ClassInfo = z.infer<typeof ClassInfo>;

export const Image = z.object({
  id: Id,
  url: z.string(),
  sourcePage: z.string().nullable(),
  className: z.string(),
  status: ImageStatus,
  failureReason: FailureReason.nullable(),
  failureDetail: z.string().nullable(),
  sha256: z.string().nullable(),
  phash: z.string().nullable(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  split: Split.nullable(),
  file: z.string().nullable(),
  /** Looked at in a review and found fine (or relabelled). */
  reviewed: z.boolean(),
});
export type Image = z.infer<typeof Image>;

export const ClassStats = z.object({
  name: z.string(),
  train: z.number().int(),
  valid: z.number().int(),
  pending: z.number().int(),
  failed: z.number().int(),
  trashed: z.number().int(),
});
export const DatasetStats = z.object({
  dataset: z.string(),
  classes: z.array(ClassStats),
  byStatus: z.record(z.string(), z.number().int()),
  byFailure: z.record(z.string(), z.number().int()),
  duplicateGroups: z.array(z.array(Id)),
});
export type DatasetStats = z.infer<typeof DatasetStats>;

export const UrlItem = z.object({
  url: z.string().min(1).max(8192),
  className: Name,
  sourcePage: z.string().max(8192).nullish(),
});
export type UrlItem = z.infer<typeof UrlItem>;

// ---------------------------------------------------------------------------
// Training

export const EngineStatus = z.object({
  backend: z.string(),
  provider: z.string(),
  reason: z.string(),
  canTrainBody: z.boolean(),
});
export type EngineStatus = z.infer<typeof EngineStatus>;

export const TrainOptions = z.object({
  /** fastai's fit_one_cycle(4) with the body frozen. */
  stage1Epochs: z.number().int().min(1).max(100).default(4),
  stage1Lr: z.number().gt(0).max(10).default(3e-3),
  /** Unfreeze, LR finder, fit_one_cycle(2, slice(lo, hi)): auto = where the backend can train the body. */
  stage2: z.enum(['auto', 'on', 'off']).default('auto'),
  stage2Epochs: z.number().int().min(1).max(100).default(2),
  lrFindIterations: z.number().int().min(10).max(300).default(50),
  augmentDraws: z.number().int().min(1).max(20).default(3),
  batchSize: z.number().int().min(1).max(512).default(32),
});
export type TrainOptions = z.infer<typeof TrainOptions>;

export const EpochRow = z.object({
  epoch: z.number().int(),
  trainLoss: z.number(),
  validLoss: z.number(),
  errorRate: z.number(),
  accuracy: z.number(),
  seconds: z.number(),
});
export type EpochRow = z.infer<typeof EpochRow>;

/** A model's validation scores: a training report's last row, kept with the model record. */
export const Metrics = z.object({ errorRate: z.number(), validLoss: z.number(), accuracy: z.number() });
export type Metrics = z.infer<typeof Metrics>;

export const Diagnosis = z.object({
  kind: z.enum(['lr-too-high', 'lr-too-low', 'too-few-epochs', 'too-many-epochs', 'ok']),
  message: z.string(),
});
export type Diagnosis = z.infer<typeof Diagnosis>;

export const LrFindCurve = z.object({
  lrs: z.array(z.number()),
  losses: z.array(z.number()),
  smoothedLosses: z.array(z.number()),
  suggestedLr: z.number(),
  rule: z.string(),
  stoppedEarly: z.boolean(),
  unfrozen: z.boolean(),
});
export type LrFindCurve = z.infer<typeof LrFindCurve>;

export const StageReport = z.object({
  name: z.string(),
  epochs: z.number().int(),
  maxLr: z.union([z.number(), z.tuple([z.number(), z.number()])]),
  rows: z.array(EpochRow),
  /** Per-batch training loss (smoothed) and LR, for the loss curve. */
  losses: z.array(z.object({ iteration: z.number().int(), loss: z.number(), lr: z.number() })),
  diagnoses: z.array(Diagnosis),
  seconds: z.number(),
});
export type StageReport = z.infer<typeof StageReport>;

export const TrainingReport = z.object({
  jobId: Id,
  dataset: z.string(),
  createdAt: z.string(),
  backend: z.string(),
  backbone: z.string(),
  classes: z.array(z.string()),
  trainImages: z.number().int(),
  validImages: z.number().int(),
  stages: z.array(StageReport),
  lrFind: LrFindCurve.nullable(),
  stage2Skipped: z.string().nullable(),
  final: Metrics.nullable(),
});
export type TrainingReport = z.infer<typeof TrainingReport>;

export const TrainUpdate = z.discriminatedUnion('type', [
  z.object({ type: z.literal('phase'), phase: z.string(), message: z.string() }),
  z.object({ type: z.literal('features'), done: z.number().int(), total: z.number().int() }),
  z.object({
    type: z.literal('batch'),
    stage: z.string(),
    iteration: z.number().int(),
    totalIterations: z.number().int(),
    loss: z.number(),
    lr: z.number(),
  }),
  z.object({ type: z.literal('epoch'), stage: z.string(), row: EpochRow, totalEpochs: z.number().int() }),
  z.object({ type: z.literal('lr-find'), iteration: z.number().int(), totalIterations: z.number().int(), lr: z.number(), loss: z.number() }),
  z.object({ type: z.literal('diagnosis'), stage: z.string(), diagnoses: z.array(Diagnosis) }),
]);
export type TrainUpdate = z.infer<typeof TrainUpdate>;

// ---------------------------------------------------------------------------
// Interpretation and cleaning

export const InterpretationItem = z.object({
  imageId: Id,
  split: Split,
  url: z.string(),
  /** The image's current label. */
  actual: z.string(),
  predicted: z.string(),
  /** Cross-entropy of the actual label: how wrong (or unsure) the model is. */
  loss: z.number(),
  /** Both probabilities, since the one of the predicted class alone misleads. */
  probActual: z.number(),
  probPredicted: z.number(),
  reviewed: z.boolean(),
});
export type InterpretationItem = z.infer<typeof InterpretationItem>;

export const InterpretationView = z.object({
  jobId: Id,
  modelId: Id,
  /** A newer model exists than the one this interpretation scored. */
  stale: z.boolean(),
  classes: z.array(z.string()),
  split: Split,
  count: z.number().int(),
  /** Rows: actual class; columns: predicted class; in `classes` order. */
  confusion: z.array(z.array(z.number().int())),
  mostConfused: z.array(z.object({ actual: z.string(), predicted: z.string(), count: z.number().int() })),
  total: z.number().int(),
  topLosses: z.array(InterpretationItem),
});
export type InterpretationView = z.infer<typeof InterpretationView>;

export const DuplicateGroup = z.object({
  images: z.array(z.object({ id: Id, split: Split.nullable(), className: z.string(), url: z.string() })),
  /** Copies on both sides of the split make the validation score look better than it is. */
  crossesSplit: z.boolean(),
  sameClass: z.boolean(),
});
export type DuplicateGroup = z.infer<typeof DuplicateGroup>;

export const TopK = z.array(z.object({ className: z.string(), probability: z.number() }));
export type TopK = z.infer<typeof TopK>;

/** Most URLs one `predict.urls` may carry; clients send larger lists in batches. */
export const MAX_PREDICT_URLS = 64;

/** One URL's answer from `predict.urls`: its top classes, or why it could not be predicted. */
export const UrlPrediction = z.object({ url: z.string(), top: TopK.nullable(), error: z.string().nullable() });
export type UrlPrediction = z.infer<typeof UrlPrediction>;

/** The URLs of one prediction request. */
export const PredictUrls = z.array(z.string().min(1).max(8192)).min(1).max(MAX_PREDICT_URLS);

export const ModelInfo = z.object({
  id: Id,
  /** The training job that made it; null for an imported model. */
  jobId: Id.nullable(),
  backbone: z.string(),
  classes: z.array(z.string()),
  metrics: Metrics.nullable(),
  createdAt: z.string(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

/** Base64 image bytes sent with a request: the frame limit bounds them too. */
export const MAX_IMAGE_BASE64 = 3 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Requests, each bound to its result

const RequestId = z.union([z.string().min(1).max(64), z.number().int()]);

/**
 * One entry per request type: its parameters and the shape of its result.
 * Adding a request is adding one line here and one handler in the daemon.
 */
export const requests = {
  hello: {
    params: z.object({
      protocolVersion: z.number().int(),
      token: z.string().min(1).max(256),
      client: z.object({ name: z.string().max(100), version: z.string().max(50) }).optional(),
    }),
    result: z.object({ protocolVersion: z.number().int(), daemonVersion: z.string() }),
  },
  status: {
    params: z.object({}),
    result: z.object({
      daemonVersion: z.string(),
      protocolVersion: z.number().int(),
      dataDir: z.string(),
      pid: z.number().int(),
      uptimeSeconds: z.number(),
      clients: z.number().int(),
      activeJobs: z.array(Job),
      engine: EngineStatus.nullable(),
    }),
  },
  'dataset.create': {
    params: z.object({ name: Name, validPct: z.number().gt(0).lt(1).optional(), splitSeed: z.number().int().optional() }),
    result: z.object({ dataset: Dataset, created: z.boolean() }),
  },
  'dataset.list': {
    params: z.object({}),
    result: z.object({ datasets: z.array(Dataset) }),
  },
  'dataset.stats': {
    params: z.object({ dataset: DatasetRef }),
    result: DatasetStats,
  },
  'class.list': {
    params: z.object({ dataset: DatasetRef }),
    result: z.object({ classes: z.array(ClassInfo) }),
  },
  'class.create': {
    params: z.object({ dataset: DatasetRef, name: Name }),
    result: z.object({ class: ClassInfo, created: z.boolean() }),
  },
  'urls.add': {
    params: z.object({ dataset: DatasetRef, items: z.array(UrlItem).min(1).max(MAX_URLS_PER_ADD) }),
    result: z.object({
      added: z.number().int(),
      duplicates: z.number().int(),
      rejected: z.array(z.object({ url: z.string(), reason: z.string() })),
    }),
  },
  'images.list': {
    params: z.object({
      dataset: DatasetRef,
      status: ImageStatus.optional(),
      className: z.string().optional(),
      split: Split.optional(),
      limit: z.number().int().min(1).max(1000).default(100),
      offset: z.number().int().min(0).default(0),
    }),
    result: z.object({ images: z.array(Image), total: z.number().int() }),
  },
  'images.trash': {
    params: z.object({ dataset: DatasetRef, ids: z.array(Id).min(1).max(10000) }),
    result: z.object({ trashed: z.number().int() }),
  },
  'images.restore': {
    params: z.object({ dataset: DatasetRef, ids: z.array(Id).min(1).max(10000) }),
    result: z.object({ restored: z.number().int() }),
  },
  'images.relabel': {
    params: z.object({ dataset: DatasetRef, ids: z.array(Id).min(1).max(10000), className: Name }),
    result: z.object({ relabelled: z.number().int() }),
  },
  'images.review': {
    params: z.object({ dataset: DatasetRef, ids: z.array(Id).min(1).max(10000) }),
    result: z.object({ reviewed: z.number().int() }),
  },
  'images.undo': {
    params: z.object({ dataset: DatasetRef }),
    result: z.object({ undone: z.object({ action: z.enum(['trash', 'relabel', 'review']), images: z.number().int() }).nullable() }),
  },
  'images.thumbnails': {
    params: z.object({ dataset: DatasetRef, ids: z.array(Id).min(1).max(100), size: z.number().int().min(16).max(512).default(128) }),
    result: z.object({ thumbnails: z.array(z.object({ id: Id, dataUrl: z.string().nullable() })) }),
  },
  'dataset.duplicates': {
    params: z.object({ dataset: DatasetRef }),
    result: z.object({ groups: z.array(DuplicateGroup) }),
  },
  'interpret.run': {
    params: z.object({ dataset: DatasetRef }),
    result: z.object({ job: Job }),
  },
  'interpret.get': {
    params: z.object({
      dataset: DatasetRef,
      split: Split.default('valid'),
      /** A confusion-matrix cell: only images of this actual class … */
      actual: z.string().optional(),
      /** … predicted as this one. */
      predicted: z.string().optional(),
      hideReviewed: z.boolean().default(false),
      minCount: z.number().int().min(1).default(1),
      limit: z.number().int().min(1).max(500).default(50),
      offset: z.number().int().min(0).default(0),
    }),
    result: InterpretationView,
  },
  'predict.urls': {
    params: z.object({
      dataset: DatasetRef,
      urls: PredictUrls,
      topK: z.number().int().min(1).max(50).default(3),
    }),
    result: z.object({
      modelId: Id,
      classes: z.array(z.string()),
      predictions: z.array(UrlPrediction),
    }),
  },
  'predict.image': {
    params: z.object({ dataset: DatasetRef, data: z.string().min(1).max(MAX_IMAGE_BASE64), topK: z.number().int().min(1).max(50).default(3) }),
    result: z.object({ modelId: Id, classes: z.array(z.string()), top: TopK }),
  },
  'model.list': {
    params: z.object({ dataset: DatasetRef }),
    result: z.object({ models: z.array(ModelInfo) }),
  },
  'model.export': {
    params: z.object({ dataset: DatasetRef, dir: z.string().min(1).max(4096), modelId: Id.optional() }),
    result: z.object({ dir: z.string(), files: z.array(z.string()), classes: z.array(z.string()) }),
  },
  'model.import': {
    params: z.object({ dataset: DatasetRef, dir: z.string().min(1).max(4096) }),
    result: z.object({ model: ModelInfo }),
  },
  'backbone.import': {
    params: z.object({ dir: z.string().min(1).max(4096), id: z.string().max(100).optional() }),
    result: z.object({ id: z.string(), dir: z.string() }),
  },
  'job.download': {
    params: z.object({ dataset: DatasetRef, retryFailed: z.boolean().optional() }),
    result: z.object({ job: Job }),
  },
  'job.verify': {
    params: z.object({ dataset: DatasetRef }),
    result: z.object({ job: Job }),
  },
  'job.import': {
    params: z.object({ dataset: DatasetRef, dir: z.string().min(1).max(4096) }),
    result: z.object({ job: Job }),
  },
  'job.export': {
    params: z.object({ dataset: DatasetRef, dir: z.string().min(1).max(4096) }),
    result: z.object({ job: Job }),
  },
  'train.start': {
    params: z.object({ dataset: DatasetRef, options: TrainOptions.default(TrainOptions.parse({})) }),
    result: z.object({ job: Job }),
  },
  'train.lrFind': {
    params: z.object({
      dataset: DatasetRef,
      /** Sweep with the body unfrozen (as the lesson does before stage 2); needs a backend that can train it. */
      unfrozen: z.boolean().default(false),
      iterations: z.number().int().min(10).max(300).default(100),
    }),
    result: z.object({ job: Job }),
  },
  'train.report': {
    params: z.object({ dataset: DatasetRef, jobId: Id.optional() }),
    result: z.object({
      report: TrainingReport.nullable(),
      lrFind: LrFindCurve.nullable(),
      /** The report is the partial one of a training still under way: `final` is null, the last stage may be short. */
      running: z.boolean().optional(),
    }),
  },
  'job.get': {
    params: z.object({ jobId: Id }),
    result: z.object({ job: Job }),
  },
  'job.list': {
    params: z.object({ dataset: DatasetRef.optional() }),
    result: z.object({ jobs: z.array(Job) }),
  },
  'job.cancel': {
    params: z.object({ jobId: Id }),
    result: z.object({ job: Job }),
  },
} as const;

export type RequestType = keyof typeof requests;
export type RequestParams<T extends RequestType> = z.input<(typeof requests)[T]['params']>;
export type ParsedParams<T extends RequestType> = z.output<(typeof requests)[T]['params']>;
export type RequestResult<T extends RequestType> = z.infer<(typeof requests)[T]['result']>;

export const REQUEST_TYPES = Object.keys(requests) as RequestType[];

export function isRequestType(type: unknown): type is RequestType {
  return typeof type === 'string' && Object.prototype.hasOwnProperty.call(requests, type);
}

// ---------------------------------------------------------------------------
// Errors

export const ErrorCode = z.enum([
  'bad_json',
  'bad_message',
  'unknown_type',
  'invalid_params',
  'unauthorized',
  'version_mismatch',
  'not_found',
  'conflict',
  'busy',
  'too_large',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

// ---------------------------------------------------------------------------
// Events pushed by the daemon

export const Event = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('job.progress'), job: Job }),
  z.object({ kind: z.literal('job.finished'), job: Job }),
  z.object({ kind: z.literal('train.update'), jobId: Id, update: TrainUpdate }),
  /** A dataset has a new newest model (trained or imported): predictions made before are stale. */
  z.object({ kind: z.literal('model.ready'), dataset: z.string(), modelId: Id }),
  z.object({
    kind: z.literal('image.failed'),
    jobId: Id,
    imageId: Id,
    url: z.string(),
    reason: FailureReason,
    detail: z.string().nullable(),
  }),
]);
export type Event = z.infer<typeof Event>;

// ---------------------------------------------------------------------------
// Frames

/** The minimal shape every client frame must have before its params are checked. */
export const RequestEnvelope = z.object({ id: RequestId, type: z.string().min(1).max(64) }).passthrough();

export type RequestFrame<T extends RequestType = RequestType> = { id: string | number; type: T } & RequestParams<T>;

export type OkFrame<T extends RequestType = RequestType> = { id: string | number; type: `${T}.ok`; result: RequestResult<T> };
export type ErrorFrame = { id: string | number | null; type: 'error'; error: ErrorBody };
export type EventFrame = { type: 'event'; event: Event };
export type ServerFrame = OkFrame | ErrorFrame | EventFrame;

export const ServerFrameEnvelope = z.union([
  z.object({ id: RequestId, type: z.string().endsWith('.ok'), result: z.unknown() }),
  z.object({ id: RequestId.nullable(), type: z.literal('error'), error: ErrorBody }),
  z.object({ type: z.literal('event'), event: Event }),
]);

/** Validates one request frame; returns the parsed params or an error body. */
export function parseRequest(
  raw: unknown,
): { ok: true; id: string | number; type: RequestType; params: unknown } | { ok: false; id: string | number | null; error: ErrorBody } {
  const envelope = RequestEnvelope.safeParse(raw);
  if (!envelope.success) {
    const id = typeof raw === 'object' && raw !== null && 'id' in raw ? (raw as { id: unknown }).id : null;
    return {
      ok: false,
      id: typeof id === 'string' || typeof id === 'number' ? id : null,
      error: { code: 'bad_message', message: 'a request needs an "id" (string or integer) and a "type" (string)' },
    };
  }
  const { id, type, ...rest } = envelope.data;
  if (!isRequestType(type)) {
    return { ok: false, id, error: { code: 'unknown_type', message: `unknown request type "${type}"` } };
  }
  const parsed = requests[type].params.safeParse(rest);
  if (!parsed.success) {
    return {
      ok: false,
      id,
      error: { code: 'invalid_params', message: `invalid parameters for "${type}": ${describeIssues(parsed.error)}` },
    };
  }
  return { ok: true, id, type, params: parsed.data };
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
