/**
 * Interpretation (fastai's ClassificationInterpretation): the trained model's class
 * probabilities for every image of the dataset are computed once as a job and kept;
 * confusion matrices, most-confused pairs and top losses are then derived on request
 * from the images' *current* labels, so a relabel or a delete shows at once.
 */
import type { InterpretationItem, InterpretationView, ParsedParams } from '../../shared/protocol.ts';
import type { Store } from '../store/store.ts';
import { DaemonError } from './errors.ts';
import type { JobContext } from './jobRunner.ts';
import { datasetItems, loadRecordedModel, withLearner, type TrainingDeps } from './training.ts';

/** What an interpretation job keeps: one probability vector per image, in the model's class order. */
export interface InterpretationResult {
  modelId: number;
  modelJobId: number | null;
  classes: string[];
  predictions: { imageId: number; split: 'train' | 'valid'; probabilities: number[] }[];
}

export async function runInterpretation(deps: TrainingDeps, ctx: JobContext, datasetId: number): Promise<InterpretationResult> {
  const model = deps.store.latestModel(datasetId);
  if (!model) throw new DaemonError('not_found', 'this dataset has no trained model yet: train first');
  const dataset = deps.store.getDatasetById(datasetId);
  const { images } = deps.store.listImages(datasetId, { status: ['ok'] });
  const byFile = new Map(images.filter((i) => i.file).map((i) => [deps.files.absolute(i.file!), i.id]));
  // Images of classes the model never saw cannot be scored against it.
  const items = datasetItems(deps, datasetId).filter((i) => model.classes.includes(i.label));
  ctx.progress.total = items.length;
  ctx.report();
  // A stage-1 model's body is the pretrained one: its features come from onnxruntime (or the cache).
  return withLearner(deps, ctx.signal, () => ({ items, classes: model.classes, seed: dataset.splitSeed }), async (learner) => {
    await loadRecordedModel(learner, deps.dataDir, model);
    const predictions: InterpretationResult['predictions'] = [];
    const chunk = 64;
    for (let start = 0; start < items.length; start += chunk) {
      const batch = items.slice(start, start + chunk);
      for (const p of await learner.predictItems(batch, { signal: ctx.signal })) {
        const imageId = byFile.get(p.file);
        if (imageId === undefined) continue;
        predictions.push({ imageId, split: p.split, probabilities: model.classes.map((c) => p.probabilities[c] ?? 0) });
      }
      ctx.progress.done = Math.min(items.length, start + batch.length);
      ctx.progress.ok = predictions.length;
      ctx.report();
    }
    const result: InterpretationResult = { modelId: model.id, modelJobId: model.jobId, classes: model.classes, predictions };
    deps.store.setJobResult(ctx.jobId, result);
    return result;
  });
}

const argmax = (xs: number[]): number => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);

/** A stored interpretation with what follows from it alone: each prediction's most probable class. */
interface ParsedInterpretation {
  jobId: number;
  result: InterpretationResult;
  predictedIndex: number[];
}

/**
 * The popup asks for the view after every review key press, and a result holds a probability
 * vector per image: it is parsed once per job, not per request. Only the job's result is kept
 * (written once, when the job ends); current labels and review marks are read afresh each time.
 * One job per dataset, the latest: older ones are never shown again.
 */
const resultCache = new WeakMap<Store, Map<number, ParsedInterpretation>>();

function parsedInterpretation(store: Store, datasetId: number, jobId: number): ParsedInterpretation {
  let perStore = resultCache.get(store);
  if (!perStore) resultCache.set(store, (perStore = new Map()));
  const hit = perStore.get(datasetId);
  if (hit?.jobId === jobId) return hit;
  const result = store.jobResult(jobId) as InterpretationResult;
  const parsed = { jobId, result, predictedIndex: result.predictions.map((p) => argmax(p.probabilities)) };
  perStore.set(datasetId, parsed);
  return parsed;
}

/** The view a client asks for: confusion, most-confused pairs and a page of top losses, from current labels. */
export function interpretationView(store: Store, datasetId: number, params: ParsedParams<'interpret.get'>): InterpretationView {
  const job = store.latestJobWithResult(datasetId, 'interpret');
  if (!job) throw new DaemonError('not_found', 'no interpretation yet: run `teddy interpret` (interpret.run) after training');
  const { result, predictedIndex } = parsedInterpretation(store, datasetId, job.id);
  const classes = result.classes;
  const current = new Map(store.listImages(datasetId, { status: ['ok'] }).images.map((i) => [i.id, i]));
  const latestModel = store.latestModel(datasetId);

  const scored: InterpretationItem[] = [];
  for (const [i, p] of result.predictions.entries()) {
    const image = current.get(p.imageId);
    // Deleted since, or moved to a class the model does not know: not part of the view.
    if (!image || p.split !== params.split) continue;
    const actualIndex = classes.indexOf(image.className);
    if (actualIndex < 0) continue;
    const predicted = predictedIndex[i]!;
    const probActual = p.probabilities[actualIndex]!;
    scored.push({
      imageId: p.imageId,
      split: p.split,
      actual: image.className,
      predicted: classes[predicted]!,
      loss: -Math.log(Math.max(probActual, 1e-12)),
      probActual,
      probPredicted: p.probabilities[predicted]!,
      reviewed: image.reviewed,
      url: image.url,
    });
  }

  const confusion = classes.map(() => classes.map(() => 0));
  for (const item of scored) confusion[classes.indexOf(item.actual)]![classes.indexOf(item.predicted)]!++;
  const mostConfused: InterpretationView['mostConfused'] = [];
  classes.forEach((actual, a) =>
    classes.forEach((predicted, p) => {
      const count = confusion[a]![p]!;
      if (a !== p && count >= params.minCount) mostConfused.push({ actual, predicted, count });
    }),
  );
  mostConfused.sort((x, y) => y.count - x.count || x.actual.localeCompare(y.actual));

  const queue = scored
    .filter((i) => (params.actual === undefined || i.actual === params.actual) && (params.predicted === undefined || i.predicted === params.predicted))
    .filter((i) => !params.hideReviewed || !i.reviewed)
    .sort((x, y) => y.loss - x.loss || x.imageId - y.imageId);

  return {
    jobId: job.id,
    modelId: result.modelId,
    stale: latestModel !== undefined && latestModel.id !== result.modelId,
    // A copy: the cached result must not change with what a caller does to its answer.
    classes: classes.slice(),
    split: params.split,
    count: scored.length,
    confusion,
    mostConfused,
    total: queue.length,
    topLosses: queue.slice(params.offset, params.offset + params.limit),
  };
}
