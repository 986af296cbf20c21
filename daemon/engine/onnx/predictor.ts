/**
 * Predictions from a classifier's `model.onnx` (body + concat pooling + head + softmax) on
 * onnxruntime, with the same decoding and centre crop as the tfjs predictors. A stage folder
 * gets its `model.onnx` from saveStage; an older stage gets one written on first use.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Normalization } from '../augment.ts';
import type { ImageDecoder } from '../images.ts';
import { fastDecoder } from '../fastDecoder.ts';
import type { Prediction } from '../learner.ts';
import { readExportMetadata } from '../exported.ts';
import { loadLayersModelFromDir, writeAtomic } from '../model-io.ts';
import { scoreFiles } from '../scoreFiles.ts';
import { readStageInfo } from '../stages.ts';
import { classifierToOnnx, ONNX_INPUT } from './export.ts';
import { centreCropBatch } from './preprocess.ts';
import { openSession, requireOnnxRuntime, type Ort, type OrtSession } from './runtime.ts';

export const ONNX_MODEL_FILE = 'model.onnx';
/**
 * Pictures per forward pass, the next chunk decoding meanwhile: a batch of 16 took 5.1 ms
 * per image in chunks of 8 against 5.3 in one piece (median of 5 bench runs each), the
 * decode of the second half hiding behind the first half's forward pass.
 */
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
    const runtime = await requireOnnxRuntime();
    const { session, description } = await openSession(runtime, new Uint8Array(await readFile(modelFile)), options.threads);
    return new OnnxPredictor(info, runtime.ort, session, options.decoder ?? fastDecoder, description);
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

  async predictFiles(files: readonly (string | Buffer)[]): Promise<Prediction[]> {
    return scoreFiles(files, {
      chunk: PIPELINE_CHUNK,
      classes: this.classes,
      pixels: (chunk) => centreCropBatch(this.decoder, chunk, this.info.imageSize, this.info.normalization),
      probabilities: (pixels, n) => this.forward(pixels, n),
    });
  }

  dispose(): void {
    void this.session.release().catch(() => undefined);
  }
}

/**
 * The ONNX predictor for a stage folder (writing its model.onnx if an older stage lacks it)
 * or an export folder that has one. Throws when there is none or no runtime: the caller
 * then predicts with tfjs.
 */
export async function loadOnnxPredictorForFolder(path: string, kind: 'stage' | 'export', options: { threads?: number; decoder?: ImageDecoder } = {}): Promise<OnnxPredictor> {
  // First, so that an older stage is not given a model.onnx that nothing here could run.
  await requireOnnxRuntime();
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
