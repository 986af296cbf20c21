/**
 * What a user of an exported model writes elsewhere: plain @tensorflow/tfjs and the
 * preprocessing described in teddy-model.json, with none of the daemon's code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';

interface Metadata {
  classes: string[];
  input: { size: number };
  preprocessing: { resizeShorterSideTo: number; centerCrop: number; mean: number[]; std: number[] };
}

export async function loadExportedWithPlainTfjs(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const weights = Buffer.concat(json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(join(dir, p)))));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
}

export async function predictWithPlainTfjs(model: tf.LayersModel, metadata: Metadata, image: Buffer): Promise<number[]> {
  const { resizeShorterSideTo: side, centerCrop: crop, mean, std } = metadata.preprocessing;
  const meta = await sharp(image).rotate().metadata();
  const w = meta.autoOrient?.width ?? meta.width!;
  const h = meta.autoOrient?.height ?? meta.height!;
  const scale = side / Math.min(w, h);
  const rw = Math.max(side, Math.round(w * scale));
  const rh = Math.max(side, Math.round(h * scale));
  const { data } = await sharp(image)
    .rotate()
    .flatten({ background: '#ffffff' })
    .resize(rw, rh, { fit: 'fill' })
    .extract({ left: Math.floor((rw - crop) / 2), top: Math.floor((rh - crop) / 2), width: crop, height: crop })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pixels = new Float32Array(crop * crop * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (data[i]! / 255 - mean[i % 3]!) / std[i % 3]!;
  const probs = tf.tidy(() => model.predict(tf.tensor4d(pixels, [1, crop, crop, 3])) as tf.Tensor);
  const out = Array.from(await probs.data());
  probs.dispose();
  return out;
}
