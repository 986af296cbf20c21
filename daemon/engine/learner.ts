/**
 * The `create_cnn` learner: a pretrained body cut before its ImageNet head, a new head,
 * layer groups for discriminative LRs, freeze/unfreeze, fit_one_cycle, lr_find, validation,
 * prediction and saved stages. Knows nothing of protocols or storage: it takes a list of
 * image files with labels and splits, and reports plain objects through `onEvent`.
 *
 * While the body is frozen its batchnorm layers stay in inference mode, so its output per
 * image and augmentation draw is fixed: it is computed once (a finite set of `augmentDraws`
 * draws per training image, cycled over epochs) and cached, and training runs on the head only.
 */
import * as tf from '@tensorflow/tfjs';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { DEFAULT_AUGMENT, IDENTITY_TRANSFORM, drawTransform, renderTransformed, type AugmentOptions, type Normalization, type TransformDraw } from './augment.ts';
import type { BackboneSpec, LoadedBackbone } from './backbones.ts';
import { FeatureCache, featureKey } from './feature-cache.ts';
import { buildHead, concatPool } from './head.ts';
import { fastDecoder } from './fastDecoder.ts';
import type { ImageDecoder } from './images.ts';
import { normaliseSquare } from './onnx/preprocess.ts';
import { AdamW } from './optimizer.ts';
import { chunk, prefetch, yieldToEventLoop } from './pipeline.ts';
import { diagnose, type BatchRecord, type Diagnosis, type EpochRow } from './recorder.ts';
import { rngFromString, shuffled } from './rng.ts';
import { DEFAULT_ONE_CYCLE, SmoothedValue, exponentialSweep, lrsForGroups, oneCycleAt, suggestLr, type LrSuggestion, type OneCycleOptions } from './schedule.ts';

export interface DatasetItem {
  /** Absolute path to a JPEG/PNG/WebP/GIF… file. */
  file: string;
  label: string;
  split: 'train' | 'valid';
}

export type EngineEvent =
  | { type: 'phase'; phase: string; message: string }
  | { type: 'features'; draw: number | 'valid'; done: number; total: number }
  | { type: 'batch'; record: BatchRecord; totalIterations: number }
  | { type: 'epoch'; row: EpochRow; totalEpochs: number }
  | { type: 'lr-find'; iteration: number; totalIterations: number; lr: number; loss: number; smoothedLoss: number }
  | { type: 'diagnosis'; diagnoses: Diagnosis[] }
  | { type: 'warning'; file?: string; message: string };

export interface RunOptions {
  signal?: AbortSignal;
  /** Progress; the run never waits on it and goes on if nobody listens. */
  onEvent?: (event: EngineEvent) => void;
}

export interface FitOptions extends RunOptions {
  schedule?: Partial<OneCycleOptions>;
  weightDecay?: number;
}

export interface FitResult {
  rows: EpochRow[];
  batches: BatchRecord[];
  diagnoses: Diagnosis[];
  /** Max LR per layer group (lower body, upper body, head). */
  groupLrs: number[];
  seconds: number;
}

export interface LrFindOptions extends RunOptions {
  startLr?: number;
  endLr?: number;
  iterations?: number;
  /** Stop when the smoothed loss exceeds 4x its best (fastai's stop_div). */
  stopOnDivergence?: boolean;
}

export interface LrFindResult {
  lrs: number[];
  losses: number[];
  smoothedLosses: number[];
  /** The suggestion: steepest descent of the smoothed loss, or where it starts to rise / 10 on a flat curve (see `suggestLr`). */
  suggestedLr: number;
  suggestion: LrSuggestion;
  rule: string;
  stoppedEarly: boolean;
}

export interface Metrics {
  validLoss: number;
  errorRate: number;
  accuracy: number;
  count: number;
}

export interface Prediction {
  label: string;
  /** Class → probability, in class order. */
  probabilities: Record<string, number>;
}

/** A row of class probabilities (in `classes` order) as a labelled prediction. */
export function predictionFromRow(classes: readonly string[], row: ArrayLike<number>): Prediction {
  let best = 0;
  const probabilities: Record<string, number> = {};
  classes.forEach((c, i) => {
    probabilities[c] = row[i] as number;
    if ((row[i] as number) > (row[best] as number)) best = i;
  });
  return { label: classes[best] as string, probabilities };
}

export interface ItemPrediction extends Prediction {
  file: string;
  actual: string;
  split: 'train' | 'valid';
  /** Cross-entropy of the actual label: sorting by it gives the top losses. */
  loss: number;
}

/**
 * Runs the frozen, pretrained body elsewhere (BodyWorkerPool: tfjs worker threads;
 * OnnxBodyRunner: onnxruntime): pooled concat(max, mean) features [n, 2C] for `n` normalised
 * images, with up to `size` batches in flight.
 */
export interface BodyRunner {
  readonly size: number;
  run(pixels: Float32Array, n: number, size: number): Promise<Float32Array>;
}

export interface LearnerOptions {
  backbone: LoadedBackbone;
  items: DatasetItem[];
  /** Class order; default: sorted labels. */
  classes?: string[];
  imageSize?: number;
  batchSize?: number;
  /**
   * Batch size while the body is trained: activations of every layer are kept for the
   * backward pass, and wasm's 4 GiB heap does not hold 32 MobileNet images at 224 px.
   */
  unfrozenBatchSize?: number;
  /**
   * Batchnorm of an unfrozen body: 'inference' (default) keeps the pretrained statistics and
   * trains only its scale and shift, as Keras advises for fine-tuning; small CPU batches give
   * poor batch statistics, and it halves the cost of a step on wasm. 'train' is fastai's way.
   */
  bodyBatchNorm?: 'inference' | 'train';
  /** Images per body forward pass when computing activations. */
  bodyBatchSize?: number;
  /** `false`: no augmentation (training images are centre crops too). */
  augment?: AugmentOptions | false;
  /** Augmentation draws kept per training image while the body is frozen. */
  augmentDraws?: number;
  /** Seeds head initialisation and shuffling. */
  seed?: number;
  /** Seeds the augmentation draws; kept apart from `seed` so a refit with a new head reuses cached draws. */
  augmentSeed?: number;
  /** On-disk feature cache; absent: memory only. */
  featureCacheDir?: string;
  /**
   * Worker threads for the pretrained body's forward pass (see body-pool.ts); absent: the
   * body runs in this thread. The caller owns (and closes) the pool.
   */
  bodyPool?: BodyRunner;
  /** A cache shared between learners (e.g. a refit after cleaning); takes precedence over featureCacheDir. */
  featureCache?: FeatureCache;
  weightDecay?: number;
  headHidden?: number;
  headDropout?: readonly [number, number];
  decoder?: ImageDecoder;
}

interface LayerGroup {
  name: 'lower_body' | 'upper_body' | 'head';
  layers: tf.layers.Layer[];
}

interface TrainBatch {
  x: tf.Tensor;
  y: Int32Array;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Hands `event` to the run's listener, if any. */
export function emit(run: RunOptions, event: EngineEvent): void {
  try {
    run.onEvent?.(event);
  } catch {
    // A failing listener must not stop a training job.
  }
}

/** Feature rows as one [rows, width] tensor, for the head. */
function stackRows(rows: readonly Float32Array[]): tf.Tensor2D {
  const width = (rows[0] as Float32Array).length;
  const flat = new Float32Array(rows.length * width);
  rows.forEach((row, k) => flat.set(row, k * width));
  return tf.tensor2d(flat, [rows.length, width]);
}

function variablesOf(layers: readonly tf.layers.Layer[], trainableOnly: boolean): tf.Variable[] {
  return layers.flatMap((l) => (trainableOnly ? l.trainableWeights : l.weights).map((w) => w.read() as tf.Variable));
}

export class Learner {
  readonly classes: string[];
  readonly spec: BackboneSpec;
  readonly body: tf.LayersModel;
  readonly head: tf.LayersModel;
  readonly imageSize: number;
  readonly normalization: Normalization;
  readonly groups: LayerGroup[];
  private readonly frozenBatchSize: number;
  readonly unfrozenBatchSize: number;
  readonly bodyBatchNorm: 'inference' | 'train';
  readonly bodyBatchSize: number;
  readonly augment: AugmentOptions | false;
  readonly augmentDraws: number;
  readonly seed: number;
  readonly augmentSeed: number;
  readonly weightDecay: number;
  /** Body forward passes done so far, for throughput figures. */
  readonly bodyStats = { images: 0, seconds: 0 };

  private items: DatasetItem[];
  private frozenBody = true;
  private bodyVersion: string;
  private readonly optimizer = new AdamW();
  private readonly cache: FeatureCache;
  private readonly decoder: ImageDecoder;
  private readonly bodyPool: BodyRunner | undefined;
  private readonly hashes = new Map<string, { key: string; hash: string }>();
  private readonly unusable = new Set<string>();
  private runCounter = 0;

  constructor(options: LearnerOptions) {
    this.spec = options.backbone.spec;
    this.body = options.backbone.body;
    this.items = options.items.slice();
    this.classes = options.classes ?? [...new Set(options.items.map((i) => i.label))].sort();
    if (this.classes.length < 2) throw new Error('need at least two classes to train a classifier');
    this.imageSize = options.imageSize ?? this.spec.inputSize;
    this.normalization = this.spec.normalization;
    this.frozenBatchSize = options.batchSize ?? 32;
    this.unfrozenBatchSize = options.unfrozenBatchSize ?? Math.min(16, this.frozenBatchSize);
    this.bodyBatchNorm = options.bodyBatchNorm ?? 'inference';
    this.bodyBatchSize = options.bodyBatchSize ?? 16;
    this.augment = options.augment === undefined ? DEFAULT_AUGMENT : options.augment;
    this.augmentDraws = Math.max(1, options.augmentDraws ?? 2);
    this.seed = options.seed ?? 42;
    this.augmentSeed = options.augmentSeed ?? 42;
    this.weightDecay = options.weightDecay ?? 1e-2;
    this.cache = options.featureCache ?? new FeatureCache(options.featureCacheDir);
    this.decoder = options.decoder ?? fastDecoder;
    this.bodyPool = options.bodyPool;
    this.bodyVersion = `pretrained:${this.spec.id}`;
    const featureShape = this.body.outputs[0]?.shape;
    const channels = featureShape?.[featureShape.length - 1];
    if (typeof channels !== 'number') throw new Error('the body output has no channel dimension');
    this.head = buildHead({
      inputFeatures: 2 * channels,
      classCount: this.classes.length,
      hidden: options.headHidden ?? 512,
      dropout: options.headDropout ?? [0.25, 0.5],
      seed: this.seed,
    });
    this.groups = this.makeGroups();
    this.checkLabels(this.items);
  }

  private makeGroups(): LayerGroup[] {
    const weighted = this.body.layers.filter((l) => l.weights.length > 0);
    let split = Math.floor(weighted.length / 2);
    if (this.spec.upperBodyStartLayer) {
      const at = weighted.findIndex((l) => l.name === this.spec.upperBodyStartLayer);
      if (at > 0) split = at;
    }
    return [
      { name: 'lower_body', layers: weighted.slice(0, split) },
      { name: 'upper_body', layers: weighted.slice(split) },
      { name: 'head', layers: this.head.layers.filter((l) => l.weights.length > 0) },
    ];
  }

  private checkLabels(items: readonly DatasetItem[]): void {
    const known = new Set(this.classes);
    const unknown = [...new Set(items.map((i) => i.label).filter((l) => !known.has(l)))];
    if (unknown.length) throw new Error(`labels not in this learner's classes (${this.classes.join(', ')}): ${unknown.join(', ')}`);
  }

  /** Replaces the dataset (after cleaning); cached activations of unchanged images are kept. */
  setItems(items: DatasetItem[]): void {
    this.checkLabels(items);
    this.items = items.slice();
  }

  get dataset(): readonly DatasetItem[] {
    return this.items;
  }

  /** Training batch size now: larger on cached activations, smaller when the body trains. */
  get batchSize(): number {
    return this.frozenBody ? this.frozenBatchSize : this.unfrozenBatchSize;
  }

  get frozen(): boolean {
    return this.frozenBody;
  }

  freeze(): void {
    this.frozenBody = true;
  }

  unfreeze(): void {
    this.frozenBody = false;
  }

  private trainItems(): DatasetItem[] {
    return this.items.filter((i) => i.split === 'train' && !this.unusable.has(i.file));
  }

  private validItems(): DatasetItem[] {
    return this.items.filter((i) => i.split === 'valid' && !this.unusable.has(i.file));
  }

  private async contentHash(file: string): Promise<string> {
    const st = await stat(file);
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = this.hashes.get(file);
    if (hit && hit.key === key) return hit.hash;
    const hash = await this.decoder.contentHash(file);
    this.hashes.set(file, { key, hash });
    return hash;
  }

  /** The augmentation `draw` is rendered with; null: the plain centre crop (IDENTITY_TRANSFORM), whatever the image. */
  private augmentFor(draw: number | 'valid' | string): AugmentOptions | null {
    return draw === 'valid' || this.augment === false ? null : this.augment;
  }

  private transformFor(hash: string, draw: number | 'valid' | string): TransformDraw {
    const augment = this.augmentFor(draw);
    return augment ? drawTransform(rngFromString(`${this.augmentSeed}:${hash}:${draw}`), augment) : IDENTITY_TRANSFORM;
  }

  /**
   * Decodes and renders a batch; unreadable files come back as null (and are skipped from then on).
   * `hashes[i]`, where the caller already has it, is the content hash of `items[i]`.
   */
  private async renderBatch(
    items: readonly DatasetItem[],
    draw: number | 'valid' | string,
    run: RunOptions,
    hashes?: readonly string[],
  ): Promise<{ pixels: Float32Array; kept: number[] }> {
    const size = this.imageSize;
    const per = size * size * 3;
    const plain = this.augmentFor(draw) === null;
    const renders = await Promise.all(
      items.map(async (item, i): Promise<((out: Float32Array) => void) | null> => {
        try {
          if (plain) {
            // The centre square normalised equals the identity render of the full decode bit
            // for bit (preprocess.test.ts), without resampling the whole picture; the draw
            // needs no content hash either.
            const square = await this.decoder.decodeCentre(item.file, size);
            if (square.width !== size || square.height !== size) throw new Error(`decoded centre is ${square.width}×${square.height}, not ${size}×${size}`);
            return (out) => normaliseSquare(square, this.normalization, out);
          }
          const [img, hash] = await Promise.all([this.decoder.decode(item.file, size), hashes?.[i] ?? this.contentHash(item.file)]);
          const transform = this.transformFor(hash, draw);
          return (out) => renderTransformed(img, size, transform, this.normalization, out);
        } catch (err) {
          this.unusable.add(item.file);
          emit(run, { type: 'warning', file: item.file, message: `skipped unreadable image: ${(err as Error).message}` });
          return null;
        }
      }),
    );
    const kept: number[] = [];
    renders.forEach((r, i) => {
      if (r) kept.push(i);
    });
    const pixels = new Float32Array(kept.length * per);
    kept.forEach((i, k) => (renders[i] as (out: Float32Array) => void)(pixels.subarray(k * per, (k + 1) * per)));
    return { pixels, kept };
  }

  private bodyFeatures(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => concatPool(this.body.apply(x, { training }) as tf.Tensor4D));
  }

  /**
   * Pooled body activations for `items` under `draw`, from the cache or computed (decoding of
   * the next batch runs on sharp's threads while the body computes the current one).
   * null for unreadable images.
   */
  private async featuresFor(items: readonly DatasetItem[], draw: number | 'valid', run: RunOptions, store = true): Promise<(Float32Array | null)[]> {
    const out: (Float32Array | null)[] = new Array(items.length).fill(null);
    const keys: string[] = [];
    const hashes: string[] = [];
    const missing: number[] = [];
    const persist = this.bodyVersion.startsWith('pretrained:');
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as DatasetItem;
      let key = '';
      let hash = '';
      try {
        hash = await this.contentHash(item.file);
        key = featureKey({ contentHash: hash, bodyVersion: this.bodyVersion, size: this.imageSize, draw, augmentSeed: this.augment === false ? -1 : this.augmentSeed });
      } catch (err) {
        this.unusable.add(item.file);
        emit(run, { type: 'warning', file: item.file, message: `skipped unreadable image: ${(err as Error).message}` });
      }
      keys.push(key);
      hashes.push(hash);
      if (!key) continue;
      const hit = await this.cache.get(key);
      if (hit) out[i] = hit;
      else missing.push(i);
    }
    if (missing.length === 0) return out;
    const total = missing.length;
    let done = 0;
    emit(run, { type: 'features', draw, done, total });
    const batches = chunk(missing, this.bodyBatchSize);
    const self = this;
    async function* rendered() {
      for (const batch of batches) {
        const result = await self.renderBatch(
          batch.map((i) => items[i] as DatasetItem),
          draw,
          run,
          batch.map((i) => hashes[i] as string),
        );
        yield { batch, ...result };
      }
    }
    const size = this.imageSize;
    // Worker threads hold the pretrained weights only; a tuned body runs here.
    const pool = persist ? this.bodyPool : undefined;
    const compute = async (batch: number[], pixels: Float32Array, kept: number[]) => {
      if (kept.length > 0) {
        let data: Float32Array;
        const started = performance.now();
        if (pool) {
          data = await pool.run(pixels, kept.length, size);
        } else {
          const features = tf.tidy(() => this.bodyFeatures(tf.tensor4d(pixels, [kept.length, size, size, 3]), false));
          data = (await features.data()) as Float32Array;
          features.dispose();
        }
        this.bodyStats.images += kept.length;
        // With workers, batches overlap: the pass's wall time is counted once, below.
        if (!pool) this.bodyStats.seconds += (performance.now() - started) / 1000;
        const width = data.length / kept.length;
        const writes: Promise<void>[] = [];
        kept.forEach((b, k) => {
          const idx = batch[b] as number;
          const vec = data.slice(k * width, (k + 1) * width);
          out[idx] = vec;
          if (store) writes.push(this.cache.set(keys[idx] as string, vec, persist));
        });
        await Promise.all(writes);
      }
      done += batch.length;
      emit(run, { type: 'features', draw, done, total });
    };
    const inFlight = new Set<Promise<void>>();
    const all: Promise<void>[] = [];
    const passStarted = performance.now();
    try {
      for await (const { batch, pixels, kept } of prefetch(rendered(), pool ? pool.size + 1 : 2)) {
        checkAbort(run.signal);
        const task = compute(batch, pixels, kept);
        if (!pool) {
          await task;
          await yieldToEventLoop();
          continue;
        }
        all.push(task);
        const tracked: Promise<void> = task.finally(() => inFlight.delete(tracked));
        tracked.catch(() => undefined);
        inFlight.add(tracked);
        if (inFlight.size >= pool.size) await Promise.race(inFlight);
      }
    } finally {
      await Promise.allSettled(all);
      if (pool) this.bodyStats.seconds += (performance.now() - passStarted) / 1000;
    }
    await Promise.all(all);
    return out;
  }

  private labelIndex(item: DatasetItem): number {
    return this.classes.indexOf(item.label);
  }

  /** One epoch of training batches, in a seeded shuffle. Batches of one are dropped (batchnorm). */
  private async *epochBatches(epoch: number, runId: number, run: RunOptions): AsyncGenerator<TrainBatch> {
    const rng = rngFromString(`${this.seed}:shuffle:${runId}:${epoch}`);
    const order = shuffled(this.trainItems(), rng);
    if (this.frozenBody) {
      const draw = this.augment === false ? 'valid' : epoch % this.augmentDraws;
      const feats = await this.featuresFor(order, draw, run);
      const usable = order.map((item, i) => ({ item, f: feats[i] })).filter((p): p is { item: DatasetItem; f: Float32Array } => p.f != null);
      for (const batch of this.dropLast(chunk(usable, this.batchSize))) {
        yield { x: stackRows(batch.map((p) => p.f)), y: Int32Array.from(batch.map((p) => this.labelIndex(p.item))) };
      }
      return;
    }
    const size = this.imageSize;
    const drawKey = `run${runId}:epoch${epoch}`;
    const self = this;
    async function* rendered() {
      for (const batch of self.dropLast(chunk(order, self.batchSize))) yield { batch, ...(await self.renderBatch(batch, drawKey, run)) };
    }
    for await (const { batch, pixels, kept } of prefetch(rendered(), 2)) {
      if (kept.length < 2) continue;
      yield {
        x: tf.tensor4d(pixels, [kept.length, size, size, 3]),
        y: Int32Array.from(kept.map((i) => this.labelIndex(batch[i] as DatasetItem))),
      };
    }
  }

  /**
   * fastai's drop_last for training: a short final batch gives batchnorm noisy statistics and
   * one noisy step per epoch; its images are in other batches in other epochs' shuffles.
   */
  private dropLast<T>(batches: T[][]): T[][] {
    if (batches.length > 1 && (batches[batches.length - 1] as T[]).length < this.batchSize) return batches.slice(0, -1);
    return batches.filter((b) => b.length >= 2);
  }

  private iterationsPerEpoch(): number {
    const n = this.trainItems().length;
    return n >= this.batchSize ? Math.floor(n / this.batchSize) : 1;
  }

  private activeGroups(): tf.Variable[][] {
    return this.groups.map((g) => (g.name === 'head' || !this.frozenBody ? variablesOf(g.layers, true) : []));
  }

  private trainStep(batch: TrainBatch, lrs: readonly number[], beta1: number, weightDecay: number, optimizer: AdamW): number {
    const groups = this.activeGroups();
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.y, 'int32'), this.classes.length));
    const frozen = this.frozenBody;
    const { value, grads } = tf.variableGrads(() => {
      const features = frozen ? (batch.x as tf.Tensor2D) : this.bodyFeatures(batch.x as tf.Tensor4D, this.bodyBatchNorm === 'train');
      const logits = this.head.apply(features, { training: true }) as tf.Tensor2D;
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    }, groups.flat());
    optimizer.apply(groups, grads, { lrs, beta1, weightDecay });
    const loss = value.dataSync()[0] as number;
    value.dispose();
    y.dispose();
    tf.dispose(grads);
    if (!frozen) this.bodyChanged();
    return loss;
  }

  /**
   * Any update to the body makes cached activations stale. Each step gives the body a new
   * version, and no version comes back without the memory being cleared (lrFind and
   * setBodyVersion clear it), so entries under the old one would only pile up.
   */
  private bodyChanged(): void {
    this.cache.clearMemory();
    this.bodyVersion = `tuned:${randomUUID()}`;
  }

  /**
   * fastai's `fit_one_cycle`. `maxLr` a number: every group at that LR; `[lo, hi]`: groups
   * spread geometrically from lo (lower body) to hi (head). Rejects with the signal's reason
   * (an AbortError) when cancelled; the epochs done so far stay in the weights.
   */
  async fitOneCycle(epochs: number, maxLr: number | readonly [number, number], options: FitOptions = {}): Promise<FitResult> {
    const started = performance.now();
    const schedule = { ...DEFAULT_ONE_CYCLE, ...options.schedule };
    const groupLrs = lrsForGroups(maxLr, this.groups.length);
    const weightDecay = options.weightDecay ?? this.weightDecay;
    const runId = ++this.runCounter;
    const totalIterations = this.iterationsPerEpoch() * epochs;
    const rows: EpochRow[] = [];
    const batches: BatchRecord[] = [];
    const smooth = new SmoothedValue(0.98);
    let iteration = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0;
      let lossCount = 0;
      for await (const batch of this.epochBatches(epoch, runId, options)) {
        try {
          checkAbort(options.signal);
          const point = oneCycleAt(Math.min(iteration, totalIterations - 1), totalIterations, schedule);
          const lrs = groupLrs.map((lr) => lr * point.lrScale);
          const loss = this.trainStep(batch, lrs, point.momentum, weightDecay, this.optimizer);
          const record: BatchRecord = { iteration, epoch, loss, smoothedLoss: smooth.add(loss), lr: Math.max(...lrs), momentum: point.momentum };
          batches.push(record);
          emit(options, { type: 'batch', record, totalIterations });
          lossSum += loss;
          lossCount += 1;
          iteration += 1;
        } finally {
          batch.x.dispose();
        }
        await yieldToEventLoop();
      }
      const metrics = await this.validate(options);
      const row: EpochRow = {
        epoch,
        trainLoss: lossCount ? lossSum / lossCount : Number.NaN,
        validLoss: metrics.validLoss,
        errorRate: metrics.errorRate,
        accuracy: metrics.accuracy,
        seconds: (performance.now() - epochStart) / 1000,
      };
      rows.push(row);
      emit(options, { type: 'epoch', row, totalEpochs: epochs });
    }
    const diagnoses = diagnose({ batches, epochs: rows, maxLr: Math.max(...groupLrs), classCount: this.classes.length });
    emit(options, { type: 'diagnosis', diagnoses });
    return { rows, batches, diagnoses, groupLrs, seconds: (performance.now() - started) / 1000 };
  }

  /** Loss and error rate on the validation set (no augmentation, inference mode). */
  async validate(run: RunOptions = {}): Promise<Metrics> {
    const preds = await this.predictItems(this.validItems(), run);
    if (preds.length === 0) return { validLoss: Number.NaN, errorRate: Number.NaN, accuracy: Number.NaN, count: 0 };
    const loss = preds.reduce((s, p) => s + p.loss, 0) / preds.length;
    const wrong = preds.filter((p) => p.label !== p.actual).length;
    return { validLoss: loss, errorRate: wrong / preds.length, accuracy: 1 - wrong / preds.length, count: preds.length };
  }

  /** Predictions for dataset items (centre crop), with each item's loss: for top losses and confusion matrices. */
  async predictItems(items: readonly DatasetItem[], run: RunOptions = {}, cacheFeatures = true): Promise<ItemPrediction[]> {
    const feats = await this.featuresFor(items, 'valid', run, cacheFeatures);
    const usable = items.map((item, i) => ({ item, f: feats[i] })).filter((p): p is { item: DatasetItem; f: Float32Array } => p.f != null);
    const out: ItemPrediction[] = [];
    for (const batch of chunk(usable, 256)) {
      const probs = tf.tidy(() => tf.softmax(this.head.apply(stackRows(batch.map((p) => p.f)), { training: false }) as tf.Tensor2D));
      const data = (await probs.data()) as Float32Array;
      probs.dispose();
      const k = this.classes.length;
      batch.forEach((p, i) => {
        const row = data.subarray(i * k, (i + 1) * k);
        const pred = this.toPrediction(row);
        const actual = row[this.labelIndex(p.item)] as number;
        const loss = Number.isFinite(actual) ? -Math.log(Math.max(actual, 1e-12)) : Number.POSITIVE_INFINITY;
        out.push({ ...pred, file: p.item.file, actual: p.item.label, split: p.item.split, loss });
      });
    }
    return out;
  }

  /** Predictions for any image files (centre crop). */
  async predictFiles(files: readonly string[], run: RunOptions = {}): Promise<Prediction[]> {
    const placeholder = this.classes[0] as string;
    // Arbitrary files (web images to classify) are not dataset members: keep them out of the cache.
    const preds = await this.predictItems(files.map((file) => ({ file, label: placeholder, split: 'valid' as const })), run, false);
    return preds.map(({ label, probabilities }) => ({ label, probabilities }));
  }

  private toPrediction(row: ArrayLike<number>): Prediction {
    return predictionFromRow(this.classes, row);
  }

  /**
   * fastai's `lr_find`: one LR for all groups, swept exponentially from startLr to endLr,
   * recording the smoothed loss; stops when it diverges. Weights (and the optimizer state)
   * are restored afterwards, also when cancelled.
   */
  async lrFind(options: LrFindOptions = {}): Promise<LrFindResult> {
    const startLr = options.startLr ?? 1e-7;
    const endLr = options.endLr ?? 10;
    const iterations = options.iterations ?? 100;
    const stopOnDivergence = options.stopOnDivergence ?? true;
    const sweep = exponentialSweep(startLr, endLr, iterations);
    const models = this.frozenBody ? [this.head] : [this.head, this.body];
    const saved = models.flatMap((m) => m.weights.map((w) => ({ variable: w.read() as tf.Variable, value: tf.clone(w.read()) })));
    const savedVersion = this.bodyVersion;
    const optimizer = new AdamW();
    const runId = ++this.runCounter;
    const lrs: number[] = [];
    const losses: number[] = [];
    const smoothedLosses: number[] = [];
    const smooth = new SmoothedValue(0.98);
    let best = Number.POSITIVE_INFINITY;
    let stoppedEarly = false;
    try {
      let iteration = 0;
      outer: for (let epoch = 0; iteration < iterations; epoch++) {
        let any = false;
        for await (const batch of this.epochBatches(epoch, runId, options)) {
          any = true;
          try {
            checkAbort(options.signal);
            const lr = sweep[iteration] as number;
            const loss = this.trainStep(batch, this.groups.map(() => lr), 0.9, 0, optimizer);
            const smoothed = smooth.add(loss);
            lrs.push(lr);
            losses.push(loss);
            smoothedLosses.push(smoothed);
            emit(options, { type: 'lr-find', iteration, totalIterations: iterations, lr, loss, smoothedLoss: smoothed });
            iteration += 1;
            if (smoothed < best) best = smoothed;
            if (stopOnDivergence && (!Number.isFinite(smoothed) || (iteration > 10 && smoothed > 4 * best))) {
              stoppedEarly = iteration < iterations;
              break outer;
            }
            if (iteration >= iterations) break outer;
          } finally {
            batch.x.dispose();
          }
          await yieldToEventLoop();
        }
        if (!any) throw new Error('no training images to run the LR finder on');
      }
    } finally {
      for (const { variable, value } of saved) {
        variable.assign(value);
        value.dispose();
      }
      optimizer.reset();
      if (this.bodyVersion !== savedVersion) {
        this.cache.clearMemory();
        this.bodyVersion = savedVersion;
      }
    }
    const finite = smoothedLosses.map((l) => (Number.isFinite(l) ? l : Number.POSITIVE_INFINITY));
    // A fall smaller than a tenth of a blind guess's loss (ln K) is noise, not a descent.
    const suggestion = suggestLr(lrs, finite, 0.1 * Math.log(this.classes.length));
    return {
      lrs,
      losses,
      smoothedLosses,
      suggestedLr: suggestion.suggested,
      suggestion,
      rule:
        suggestion.rule === 'steepest'
          ? 'steepest descent of the smoothed loss against log10(LR), before the loss minimum'
          : 'no clear descent: the LR where the loss starts to rise (1.5x its minimum) / 10',
      stoppedEarly,
    };
  }

  /** True once the body's weights differ from the pretrained backbone. */
  get bodyTuned(): boolean {
    return !this.bodyVersion.startsWith('pretrained:');
  }

  /** @internal for stage loading. */
  setBodyVersion(version: string): void {
    if (version !== this.bodyVersion) this.cache.clearMemory();
    this.bodyVersion = version;
  }

  get currentBodyVersion(): string {
    return this.bodyVersion;
  }

  dispose(): void {
    this.optimizer.reset();
    this.head.dispose();
    this.cache.clearMemory();
  }
}

export function createLearner(options: LearnerOptions): Learner {
  return new Learner(options);
}
