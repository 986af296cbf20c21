/**
 * Test fixtures: coloured-shape images generated with sharp and a tiny conv backbone built
 * with tfjs, so engine tests need neither the network nor ../shared.
 */
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackboneSpec, LoadedBackbone } from './backbones.ts';
import { cutBody } from './backbones.ts';
import type { DatasetItem } from './learner.ts';
import { mulberry32 } from './rng.ts';

export const SHAPE_CLASSES = ['disc', 'square', 'stripes'] as const;

/** One image: a noisy background and a shape whose kind and hue depend on the class. */
function drawShape(kind: (typeof SHAPE_CLASSES)[number], size: number, rand: () => number): Buffer {
  const px = Buffer.alloc(size * size * 3);
  const colour = kind === 'disc' ? [220, 40, 40] : kind === 'square' ? [40, 200, 60] : [50, 70, 230];
  const cx = size * (0.35 + 0.3 * rand());
  const cy = size * (0.35 + 0.3 * rand());
  const r = size * (0.18 + 0.1 * rand());
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let inside: boolean;
      if (kind === 'disc') inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      else if (kind === 'square') inside = Math.abs(x - cx) < r && Math.abs(y - cy) < r;
      else inside = Math.floor(x / 4) % 2 === 0 && Math.abs(y - cy) < r * 1.5;
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const base = inside ? (colour[c] as number) : 110;
        px[o + c] = Math.max(0, Math.min(255, Math.round(base + (rand() - 0.5) * 60)));
      }
    }
  }
  return px;
}

/** Writes `perClass` PNG/JPEG images per class under `dir/<class>/`; every 4th image is validation. */
export async function makeShapesDataset(dir: string, perClass = 24, size = 40, seed = 1): Promise<DatasetItem[]> {
  const rand = mulberry32(seed);
  const items: DatasetItem[] = [];
  for (const kind of SHAPE_CLASSES) {
    await mkdir(join(dir, kind), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const raw = drawShape(kind, size, rand);
      const jpeg = i % 2 === 0;
      const file = join(dir, kind, `${kind}-${i}.${jpeg ? 'jpg' : 'png'}`);
      const img = sharp(raw, { raw: { width: size, height: size, channels: 3 } });
      await (jpeg ? img.jpeg({ quality: 90 }) : img.png()).toFile(file);
      items.push({ file, label: kind, split: i % 4 === 3 ? 'valid' : 'train' });
    }
  }
  return items;
}

export const TINY_SIZE = 32;

export function tinySpec(id = 'tiny-test'): BackboneSpec {
  return {
    id,
    description: 'tiny conv net for tests',
    url: 'http://127.0.0.1:1/model.json',
    cutLayer: 'cut',
    upperBodyStartLayer: 'c3',
    inputSize: TINY_SIZE,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  };
}

/** A few conv layers (with a batchnorm, like real bodies) and a throwaway "ImageNet" head. */
export function buildTinyNetwork(seed = 7): tf.LayersModel {
  const init = (s: number) => tf.initializers.heNormal({ seed: seed + s });
  const input = tf.input({ shape: [TINY_SIZE, TINY_SIZE, 3], name: 'input_1' });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(0), name: 'c1' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(1), name: 'c2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'c2_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'c2_relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init(2), name: 'c3' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'cut' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3), name: 'preds' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'tiny' });
}

export function tinyBackbone(seed = 7): LoadedBackbone {
  const spec = tinySpec();
  const full = buildTinyNetwork(seed);
  return { spec, dir: '', full, body: cutBody(full, spec.cutLayer) };
}
