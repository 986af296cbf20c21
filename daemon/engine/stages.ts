/**
 * Saved stages (`stage-1`, `stage-2`, …): a self-contained folder per stage with the body and
 * the head as tfjs layers models plus `stage.json` (classes, backbone, preprocessing), so a
 * stage loads back into a learner or into a bare predictor for inference elsewhere.
 * `model.onnx` beside them is the same classifier (body, pooling, head, softmax) for
 * onnxruntime; the tfjs models stay the source of truth.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Normalization } from './augment.ts';
import { concatPool } from './head.ts';
import { fastDecoder } from './fastDecoder.ts';
import type { ImageDecoder } from './images.ts';
import type { Learner, Prediction } from './learner.ts';
import { centreCropBatch } from './onnx/preprocess.ts';
import { loadLayersModelFromDir, saveLayersModelToDir, writeAtomic } from './model-io.ts';
import { classifierToOnnx } from './onnx/export.ts';
import { scoreFiles } from './scoreFiles.ts';

export const STAGE_FORMAT = 'teddy-stage/1';

export interface StageInfo {
  format: typeof STAGE_FORMAT;
  name: string;
  classes: string[];
  backboneId: string;
  imageSize: number;
  normalization: Normalization;
  /** Pooling between body and head, in feature order. */
  pooling: 'concat(max, mean)';
  bodyVersion: string;
  frozen: boolean;
  savedAt: string;
}

/** Saves the learner's current weights as `${dir}/${name}`; returns that path. */
export async function saveStage(learner: Learner, dir: string, name: string): Promise<string> {
  const target = join(dir, name);
  const partial = `${target}.saving-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    await saveLayersModelToDir(learner.body, join(partial, 'body'));
    await saveLayersModelToDir(learner.head, join(partial, 'head'));
    const info: StageInfo = {
      format: STAGE_FORMAT,
      name,
      classes: learner.classes.slice(),
      backboneId: learner.spec.id,
      imageSize: learner.imageSize,
      normalization: learner.normalization,
      pooling: 'concat(max, mean)',
      bodyVersion: learner.currentBodyVersion,
      frozen: learner.frozen,
      savedAt: new Date().toISOString(),
    };
    await writeAtomic(join(partial, 'stage.json'), JSON.stringify(info, null, 2));
    // The classifier for onnxruntime, swapped in with the rest of the stage by the rename below.
    // A body with a layer ONNX export lacks just goes without; predictions then stay on tfjs.
    let onnxBytes: Uint8Array | undefined;
    try {
      onnxBytes = classifierToOnnx(learner.body, learner.head, `Teddy ${name}`);
    } catch {
      onnxBytes = undefined;
    }
    if (onnxBytes) await writeAtomic(join(partial, 'model.onnx'), onnxBytes);
    await rm(target, { recursive: true, force: true });
    await rename(partial, target);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return target;
}

export async function readStageInfo(stagePath: string): Promise<StageInfo> {
  const info = JSON.parse(await readFile(join(stagePath, 'stage.json'), 'utf8')) as StageInfo;
  if (info.format !== STAGE_FORMAT) throw new Error(`${stagePath}: not a Teddy stage (format ${String(info.format)})`);
  return info;
}

/** Loads `${dir}/${name}` into a learner with the same classes and backbone (fastai's `learn.load`). */
export async function loadStage(learner: Learner, dir: string, name: string): Promise<StageInfo> {
  const path = join(dir, name);
  const info = await readStageInfo(path);
  if (info.backboneId !== learner.spec.id) throw new Error(`stage ${name} was trained on ${info.backboneId}, this learner uses ${learner.spec.id}`);
  if (info.classes.join('\u0000') !== learner.classes.join('\u0000')) {
    throw new Error(`stage ${name} has classes ${info.classes.join(', ')}, this learner ${learner.classes.join(', ')}`);
  }
  const [body, head] = await Promise.all([loadLayersModelFromDir(join(path, 'body')), loadLayersModelFromDir(join(path, 'head'))]);
  try {
    learner.body.setWeights(body.getWeights());
    learner.head.setWeights(head.getWeights());
  } finally {
    body.dispose();
    head.dispose();
  }
  learner.setBodyVersion(info.bodyVersion);
  if (info.frozen) learner.freeze();
  else learner.unfreeze();
  return info;
}

/** Inference from a saved stage, without a dataset or a learner (the daemon's classify API). */
export class StagePredictor {
  private constructor(
    readonly info: StageInfo,
    private readonly body: tf.LayersModel,
    private readonly head: tf.LayersModel,
    private readonly decoder: ImageDecoder,
  ) {}

  static async load(stagePath: string, decoder: ImageDecoder = fastDecoder): Promise<StagePredictor> {
    const info = await readStageInfo(stagePath);
    const [body, head] = await Promise.all([loadLayersModelFromDir(join(stagePath, 'body')), loadLayersModelFromDir(join(stagePath, 'head'))]);
    return new StagePredictor(info, body, head, decoder);
  }

  get classes(): string[] {
    return this.info.classes;
  }

  /** Predictions for image files, or for their bytes. */
  async predictFiles(files: readonly (string | Buffer)[]): Promise<Prediction[]> {
    const size = this.info.imageSize;
    return scoreFiles(files, {
      chunk: 16,
      classes: this.classes,
      pixels: (chunk) => centreCropBatch(this.decoder, chunk, size, this.info.normalization),
      probabilities: async (pixels, n) => {
        const probs = tf.tidy(() => {
          const x = tf.tensor4d(pixels, [n, size, size, 3]);
          const features = concatPool(this.body.predict(x) as tf.Tensor4D);
          return tf.softmax(this.head.predict(features) as tf.Tensor2D);
        });
        const data = (await probs.data()) as Float32Array;
        probs.dispose();
        return data;
      },
    });
  }

  dispose(): void {
    this.body.dispose();
    this.head.dispose();
  }
}
