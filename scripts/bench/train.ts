/**
 * `npm run bench -- train --data DIR [--seed 42] [--valid 0.2] [--stage2 auto|on|off]
 *   [--draws 2] [--lr-find-iters 30] [--body onnx|workers|main] [--workers N]`
 *
 * The lesson-2 training run on any folder-layout dataset (DIR/<class>/*.jpg): validation
 * decided per image by a seeded hash of its content (stable when images are added), stage 1
 * (fit_one_cycle(4, 3e-3), body frozen, starting from an empty feature cache so the first
 * pass through the body is included), then a refit of four epochs with a fresh head on the
 * cached activations (what happens after cleaning), then stage 2 when the backend can train
 * the body. Backbone: TEDDY_MODEL_DIR, else ../shared/models when present, else the cache
 * (downloaded on first use). The frozen body runs on onnxruntime (`--body onnx`, the default
 * when it loads), tfjs worker threads (`--body workers`) or the main thread (`--body main`).
 * Last line: {"bench":"train","backend":B,"train_images":N,"valid_images":M,
 *   "stage1_error_rate":E1,"stage2_error_rate":E2|null,"stage1_seconds":S1,
 *   "refit_seconds":S2,"body_images_per_s":F,"body_runtime":"onnxruntime"|"tfjs","peak_rss_mb":R}
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { availableParallelism, tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { validationSplit } from '../../daemon/store/split.ts';
import { initBackend } from '../../daemon/engine/backend.ts';
import { DEFAULT_BACKBONE_ID, loadBackbone } from '../../daemon/engine/backbones.ts';
import { BodyWorkerPool } from '../../daemon/engine/body-pool.ts';
import { OnnxBodyRunner } from '../../daemon/engine/onnx/body-runner.ts';
import { FeatureCache } from '../../daemon/engine/feature-cache.ts';
import { Learner, type DatasetItem, type EngineEvent } from '../../daemon/engine/learner.ts';
import { formatEpochTable } from '../../daemon/engine/recorder.ts';
import { saveStage } from '../../daemon/engine/stages.ts';
import { arg, benchModelDir, REPO_ROOT, round } from './util.ts';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff', '.avif']);

async function folderDataset(dir: string, seed: number, validPct: number): Promise<DatasetItem[]> {
  const items: DatasetItem[] = [];
  for (const label of (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    for (const name of (await readdir(join(dir, label))).sort()) {
      if (!IMAGE_EXT.has(extname(name).toLowerCase())) continue;
      const file = resolve(dir, label, name);
      const sha = createHash('sha256').update(await readFile(file)).digest('hex');
      items.push({ file, label, split: validationSplit(seed, sha, validPct) });
    }
  }
  return items;
}

export async function main(args: string[]): Promise<void> {
  const data = arg(args, 'data', '');
  if (!data) throw new Error('usage: npm run bench -- train --data DIR');
  const seed = Number(arg(args, 'seed', '42'));
  const validPct = Number(arg(args, 'valid', '0.2'));
  const stage2Mode = arg(args, 'stage2', 'auto');
  const draws = Number(arg(args, 'draws', '2'));
  const lrFindIters = Number(arg(args, 'lr-find-iters', '30'));
  // Body worker threads for the frozen pass; 0 runs the body in the main thread.
  const workers = Number(arg(args, 'workers', String(availableParallelism() >= 2 ? availableParallelism() : 0)));
  const bodyMode = arg(args, 'body', 'onnx');
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 200);
  sampler.unref();

  const status = await initBackend();
  console.error(`backend: ${status.backend} (${status.reason})`);
  const backbone = await loadBackbone(DEFAULT_BACKBONE_ID, { cacheDir: join(REPO_ROOT, '.bench', 'models'), modelDir: benchModelDir() });
  const items = await folderDataset(data, seed, validPct);
  const train = items.filter((i) => i.split === 'train').length;
  const valid = items.length - train;
  console.error(`dataset: ${train} train, ${valid} valid, classes ${[...new Set(items.map((i) => i.label))].join(', ')}`);

  let onnx: OnnxBodyRunner | undefined;
  if (bodyMode === 'onnx') {
    const made = await OnnxBodyRunner.create(backbone.body);
    if (made.runner) onnx = made.runner;
    else console.error(`body: no onnxruntime (${made.reason}), falling back to tfjs`);
  }
  const pool = onnx ?? (bodyMode !== 'main' && workers > 0 ? await BodyWorkerPool.start(backbone.full, backbone.spec.cutLayer, workers) : undefined);
  console.error(`body: ${onnx ? onnx.description : pool ? `${workers} tfjs worker threads` : 'main thread'}`);
  const work = await mkdtemp(join(tmpdir(), 'teddy-bench-train-'));
  const cache = new FeatureCache(join(work, 'features'));
  let lastFeatures = '';
  const onEvent = (e: EngineEvent) => {
    if (e.type === 'features' && e.done === e.total) lastFeatures = `draw ${e.draw}: ${e.total} images through the body`;
    if (e.type === 'features' && e.done === e.total) console.error(lastFeatures);
    if (e.type === 'epoch') console.error(`epoch ${e.row.epoch}: train ${e.row.trainLoss.toFixed(4)} valid ${e.row.validLoss.toFixed(4)} error ${e.row.errorRate.toFixed(4)} (${e.row.seconds.toFixed(1)} s)`);
    if (e.type === 'phase' || e.type === 'warning') console.error(`${e.type}: ${e.message}`);
  };
  try {
    const learner = new Learner({ backbone, items, seed, augmentDraws: draws, featureCache: cache, ...(pool ? { bodyPool: pool } : {}) });
    const s1Start = performance.now();
    const stage1 = await learner.fitOneCycle(4, 3e-3, { onEvent });
    const stage1Seconds = (performance.now() - s1Start) / 1000;
    console.error(formatEpochTable(stage1.rows));
    for (const d of stage1.diagnoses) console.error(`diagnosis: ${d.message}`);
    const bodyImagesPerS = learner.bodyStats.images / learner.bodyStats.seconds;
    await saveStage(learner, join(work, 'stages'), 'stage-1');

    // A refit after cleaning: a fresh head on the same (cached) activations.
    const refitLearner = new Learner({ backbone, items, seed: seed + 1, augmentDraws: draws, featureCache: cache, ...(pool ? { bodyPool: pool } : {}) });
    const refitStart = performance.now();
    const refit = await refitLearner.fitOneCycle(4, 3e-3, { onEvent });
    const refitSeconds = (performance.now() - refitStart) / 1000;
    console.error(`refit: ${refitSeconds.toFixed(1)} s, error ${refit.rows.at(-1)?.errorRate.toFixed(4)}, body images ${refitLearner.bodyStats.images}`);
    refitLearner.dispose();

    // The workers hold the pretrained body only; free them before the body is fine-tuned.
    await pool?.close();
    let stage2Error: number | null = null;
    const runStage2 = stage2Mode === 'on' || (stage2Mode === 'auto' && status.canTrainBody);
    if (runStage2) {
      try {
        learner.unfreeze();
        const s2Start = performance.now();
        const found = await learner.lrFind({ iterations: lrFindIters, onEvent });
        const hi = Math.min(1e-3, Math.max(1e-5, found.suggestedLr));
        console.error(`lr_find: ${found.lrs.length} points, suggestion ${found.suggestedLr.toExponential(2)} (${found.suggestion.rule}) → slice(${(hi / 10).toExponential(1)}, ${hi.toExponential(1)})`);
        const stage2 = await learner.fitOneCycle(2, [hi / 10, hi], { onEvent });
        console.error(formatEpochTable(stage2.rows));
        console.error(`stage 2: ${((performance.now() - s2Start) / 1000).toFixed(1)} s`);
        stage2Error = stage2.rows.at(-1)?.errorRate ?? null;
      } catch (err) {
        // Keep stage 1's figures when fine-tuning the body fails (e.g. a backend kernel error).
        console.error(`stage 2 failed: ${(err as Error).stack ?? String(err)}`.slice(0, 2000));
      }
    }
    learner.dispose();
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    console.log(
      JSON.stringify({
        bench: 'train',
        backend: status.backend,
        train_images: train,
        valid_images: valid,
        stage1_error_rate: round(stage1.rows.at(-1)?.errorRate ?? Number.NaN, 4),
        stage2_error_rate: stage2Error === null ? null : round(stage2Error, 4),
        stage1_seconds: round(stage1Seconds, 1),
        refit_seconds: round(refitSeconds, 2),
        body_images_per_s: round(bodyImagesPerS, 2),
        body_runtime: onnx ? 'onnxruntime' : 'tfjs',
        peak_rss_mb: Math.round(peakRss / 2 ** 20),
      }),
    );
  } finally {
    clearInterval(sampler);
    await pool?.close();
    await rm(work, { recursive: true, force: true });
  }
}
