/**
 * Predictions from a classifier's `model.onnx` (body + concat pooling + head + softmax) on
 * onnxruntime, with the same decoding and centre crop as the tfjs predictors. A stage folder
 * gets its `model.onnx` from saveStage; an older stage gets one written on first use.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Normalization } from '../augment.ts';
import type { ImageDecoder } from '../images.ts';
import { fastDecoder } from '../fastDecoder.ts';
import { predictionFromRow, type Prediction } from '../learner.ts';
import { readExportMetadata } from '../exported.ts';
import { loadLayersModelFromDir, writeAtomic } from '../model-io.ts';
import { readStageInfo } from '../stages.ts';
import { classifierToOnnx, ONNX_INPUT } from './export.ts';
import { centreCropBatch } from './preprocess.ts';
import { createSession, loadOnnxRuntime, type Ort, type OrtSession } from './runtime.ts';

export const ONNX_MODEL_FILE = 'model.onnx';
/** Pictures decoded ahead while the runtime scores the previous ones. */
const PIPELINE_CHUNK = 8;

export interface OnnxClassifierInfo {
  classes: string[];
  imageSize: number;
  normalization: Normalization;
}

/** The whole classifier of a stage folder as ONNX bytes (tfjs weights are the source of truth). */
export async function stageClassifierOnnx(stagePath: string): Promise<Uint8Array> {
  const [body, head] = await Promise.all([loadLayersModelFromDir(join(stagePath, 'body')), loadLayersModelFromDir(join(stagePath, 'head'))]);
  try {
    return classifierToOnnx(body, head, 'Teddy classifier: NHWC normalised pixels → class probabilities');
  } finally {
    body.dispose();
    head.dispose();
  }
}

/** Writes `${stagePath}/model.onnx` if it is missing (temp name, then rename: readers never see half a file). */
export async function ensureStageOnnx(stagePath: string): Promise<string> {
  const file = join(stagePath, ONNX_MODEL_FILE);
  if (!existsSync(file)) await writeAtomic(file, await stageClassifierOnnx(stagePath));
  return file;
}

export class OnnxPredictor {
  private constructor(
    readonly info: OnnxClassifierInfo,
    private readonly ort: Ort,
    private readonly session: OrtSession,
    private readonly decoder: ImageDecoder,
    readonly runtime: string,
  ) {}

  /** Throws when onnxruntime is unavailable or the file does not load: callers fall back to tfjs. */
  static async load(modelFile: string, info: OnnxClassifierInfo, options: { threads?: number; decoder?: ImageDecoder } = {}): Promise<OnnxPredictor> {
    const state = await loadOnnxRuntime();
    if (!state.available) throw new Error(`onnxruntime-node unavailable: ${state.reason}`);
    const threads = options.threads ?? state.threads;
    const session = await createSession(state.ort, new Uint8Array(await readFile(modelFile)), threads);
    return new OnnxPredictor(info, state.ort, session, options.decoder ?? fastDecoder, `onnxruntime-node ${state.version} (${threads} threads)`);
  }

  get classes(): string[] {
    return this.info.classes;
  }

  /** Probabilities for already preprocessed NHWC pixels. */
  async forward(pixels: Float32Array, n: number): Promise<Float32Array> {
    const size = this.info.imageSize;
    const out = await this.session.run({ [ONNX_INPUT]: new this.ort.Tensor('float32', pixels, [n, size, size, 3]) });
    return (out.probabilities as import('onnxruntime-node').Tensor).data as Float32Array;
  }

  /**
   * Scores pictures in chunks of PIPELINE_CHUNK, decoding the next chunk while the runtime
   * runs this one: a batch of 16 took 5.1 ms per image that way against 5.3 in one piece
   * (median of 5 bench runs each), the decode of the second half hiding behind the first
   * half's forward pass.
   */
  async predictFiles(files: readonly (string | Buffer)[]): Promise<Prediction[]> {
    const size = this.info.imageSize;
    const chunks: (string | Buffer)[][] = [];
    for (let start = 0; start < files.length; start += PIPELINE_CHUNK) chunks.push(files.slice(start, start + PIPELINE_CHUNK));
    const decode = (chunk: (string | Buffer)[]): Promise<Float32Array> => centreCropBatch(this.decoder, chunk, size, this.info.normalization);
    const out: Prediction[] = [];
    let next = chunks.length > 0 ? decode(chunks[0]!) : undefined;
    for (const [c, chunk] of chunks.entries()) {
      const pixels = await next!;
      next = c + 1 < chunks.length ? decode(chunks[c + 1]!) : undefined;
      // Settled here too, so a failure while this chunk runs is not reported as unhandled; the loop still awaits it.
      next?.catch(() => undefined);
      const data = await this.forward(pixels, chunk.length);
      const k = this.classes.length;
      chunk.forEach((_, i) => out.push(predictionFromRow(this.classes, data.subarray(i * k, (i + 1) * k))));
    }
    return out;
  }

  dispose(): void {
    void this.session.release().catch(() => undefined);
  }
}

/** For tests and tools: tfjs reference probabilities of a stage on the same pixels. */
export function tfjsClassifierProbabilities(body: tf.LayersModel, head: tf.LayersModel, pixels: Float32Array, n: number, size: number): Float32Array {
  return tf.tidy(() => {
    const f = body.predict(tf.tensor4d(pixels, [n, size, size, 3])) as tf.Tensor4D;
    const pooled = tf.concat([tf.max(f, [1, 2]), tf.mean(f, [1, 2])], 1);
    return tf.softmax(head.predict(pooled) as tf.Tensor2D).dataSync() as Float32Array;
  });
}

/**
 * The ONNX predictor for a stage folder (writing its model.onnx if an older stage lacks it)
 * or an export folder that has one. Throws when there is none or no runtime: the caller
 * then predicts with tfjs.
 */
export async function loadOnnxPredictorForFolder(path: string, kind: 'stage' | 'export', options: { threads?: number; decoder?: ImageDecoder } = {}): Promise<OnnxPredictor> {
  const state = await loadOnnxRuntime();
  if (!state.available) throw new Error(`onnxruntime-node unavailable: ${state.reason}`);
  if (kind === 'stage') {
    const info = await readStageInfo(path);
    const file = await ensureStageOnnx(path);
    return OnnxPredictor.load(file, { classes: info.classes, imageSize: info.imageSize, normalization: info.normalization }, options);
  }
  const metadata = await readExportMetadata(path);
  const file = join(path, metadata.onnx?.file ?? ONNX_MODEL_FILE);
  if (!existsSync(file)) throw new Error(`${path} has no ${ONNX_MODEL_FILE}`);
  return OnnxPredictor.load(
    file,
    { classes: metadata.classes, imageSize: metadata.input.size, normalization: { mean: metadata.preprocessing.mean, std: metadata.preprocessing.std } },
    options,
  );
}
