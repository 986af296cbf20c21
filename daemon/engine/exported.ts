/**
 * A trained stage as one self-contained classifier: body, concat pooling, head and softmax
 * in a single tfjs layers model (model.json + weights.bin) that plain `@tensorflow/tfjs`
 * loads in a browser with `tf.loadLayersModel(url)`, plus `teddy-model.json` saying the
 * classes in output order and the preprocessing, so it can run elsewhere; and `model.onnx`,
 * the same classifier for onnxruntime (named in teddy-model.json).
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Normalization } from './augment.ts';
import { fastDecoder } from './fastDecoder.ts';
import type { ImageDecoder } from './images.ts';
import type { Prediction } from './learner.ts';
import { centreCropBatch } from './onnx/preprocess.ts';
import { loadLayersModelFromDir, saveLayersModelToDir, writeAtomic } from './model-io.ts';
import { classifierToOnnx, ONNX_INPUT, ONNX_OPSET } from './onnx/export.ts';
import { scoreFiles } from './scoreFiles.ts';
import { readStageInfo } from './stages.ts';

export const EXPORT_FORMAT = 'teddy-model/1';
export const EXPORT_METADATA_FILE = 'teddy-model.json';

export interface ExportMetadata {
  format: typeof EXPORT_FORMAT;
  /** Output order of the model's probabilities. */
  classes: string[];
  backbone: string;
  input: { size: number; channels: 'RGB'; layout: 'NHWC'; dtype: 'float32' };
  preprocessing: {
    /** In words, for whoever reimplements it. */
    steps: string[];
    resizeShorterSideTo: number;
    centerCrop: number;
    scale: '1/255';
    mean: readonly [number, number, number];
    std: readonly [number, number, number];
  };
  output: 'probabilities';
  /**
   * The same classifier as ONNX (onnxruntime from Python, C#, mobile…): same NHWC input
   * and preprocessing, output `probabilities`. Absent when the body has a layer without an
   * ONNX conversion.
   */
  onnx?: { file: string; opset: number; input: string; output: string };
  createdAt: string;
  /** Free-form provenance: dataset name and size, metrics, training job. */
  provenance: Record<string, unknown>;
}

function preprocessingFor(size: number, normalization: Normalization): ExportMetadata['preprocessing'] {
  return {
    steps: [
      'apply EXIF orientation; flatten transparency on white; convert to sRGB RGB',
      `resize (Lanczos 3) so that the shorter side is ${size} px, keeping the aspect ratio`,
      `crop the central ${size}x${size} square`,
      'divide by 255, then per channel subtract mean and divide by std',
    ],
    resizeShorterSideTo: size,
    centerCrop: size,
    scale: '1/255',
    mean: normalization.mean,
    std: normalization.std,
  };
}

/** Writes the stage at `stagePath` as a single-model export into `outDir` (replaced atomically). */
export async function exportStage(stagePath: string, outDir: string, provenance: Record<string, unknown>): Promise<ExportMetadata> {
  const info = await readStageInfo(stagePath);
  const [body, head] = await Promise.all([loadLayersModelFromDir(join(stagePath, 'body')), loadLayersModelFromDir(join(stagePath, 'head'))]);
  const partial = `${outDir}.exporting-${process.pid}`;
  try {
    const features = body.outputs[0]!;
    const max = tf.layers.globalMaxPooling2d({ name: 'pool_max' }).apply(features) as tf.SymbolicTensor;
    const mean = tf.layers.globalAveragePooling2d({ name: 'pool_mean' }).apply(features) as tf.SymbolicTensor;
    // Max then mean: the order the head was trained on.
    let x = tf.layers.concatenate({ axis: -1, name: 'pool_concat' }).apply([max, mean]) as tf.SymbolicTensor;
    for (const layer of head.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      x = layer.apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.activation({ activation: 'softmax', name: 'probabilities' }).apply(x) as tf.SymbolicTensor;
    const classifier = tf.model({ inputs: body.inputs, outputs: x, name: 'teddy_classifier' });
    let onnxBytes: Uint8Array | undefined;
    try {
      onnxBytes = classifierToOnnx(body, head, `Teddy classifier (${info.classes.join(', ')}): NHWC pixels preprocessed as teddy-model.json says → probabilities`);
    } catch {
      onnxBytes = undefined;
    }
    const metadata: ExportMetadata = {
      format: EXPORT_FORMAT,
      classes: info.classes,
      backbone: info.backboneId,
      input: { size: info.imageSize, channels: 'RGB', layout: 'NHWC', dtype: 'float32' },
      preprocessing: preprocessingFor(info.imageSize, info.normalization),
      output: 'probabilities',
      ...(onnxBytes ? { onnx: { file: 'model.onnx', opset: ONNX_OPSET, input: ONNX_INPUT, output: 'probabilities' } } : {}),
      createdAt: new Date().toISOString(),
      provenance,
    };
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    await saveLayersModelToDir(classifier, partial);
    if (onnxBytes) await writeAtomic(join(partial, 'model.onnx'), onnxBytes);
    await writeAtomic(join(partial, EXPORT_METADATA_FILE), JSON.stringify(metadata, null, 2));
    await rm(outDir, { recursive: true, force: true });
    await rename(partial, outDir);
    return metadata;
  } finally {
    body.dispose();
    head.dispose();
    await rm(partial, { recursive: true, force: true });
  }
}

export async function readExportMetadata(dir: string): Promise<ExportMetadata> {
  const metadata = JSON.parse(await readFile(join(dir, EXPORT_METADATA_FILE), 'utf8')) as ExportMetadata;
  if (metadata.format !== EXPORT_FORMAT) throw new Error(`${dir}: not a Teddy model export (format ${String(metadata.format)})`);
  return metadata;
}

/** Inference from an exported folder: what an imported model predicts with. */
export class ExportedPredictor {
  private constructor(
    readonly metadata: ExportMetadata,
    private readonly model: tf.LayersModel,
    private readonly decoder: ImageDecoder,
  ) {}

  static async load(dir: string, decoder: ImageDecoder = fastDecoder): Promise<ExportedPredictor> {
    const metadata = await readExportMetadata(dir);
    return new ExportedPredictor(metadata, await loadLayersModelFromDir(dir), decoder);
  }

  get classes(): string[] {
    return this.metadata.classes;
  }

  async predictFiles(files: readonly (string | Buffer)[]): Promise<Prediction[]> {
    const size = this.metadata.input.size;
    const norm: Normalization = { mean: this.metadata.preprocessing.mean, std: this.metadata.preprocessing.std };
    return scoreFiles(files, {
      chunk: 16,
      classes: this.classes,
      pixels: (chunk) => centreCropBatch(this.decoder, chunk, size, norm),
      probabilities: async (pixels, n) => {
        const probs = tf.tidy(() => this.model.predict(tf.tensor4d(pixels, [n, size, size, 3])) as tf.Tensor2D);
        const data = (await probs.data()) as Float32Array;
        probs.dispose();
        return data;
      },
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}
