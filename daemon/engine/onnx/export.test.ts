import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../backend.ts';
import { DEFAULT_BACKBONE_ID, getBackboneSpec, loadBackboneFromDir } from '../backbones.ts';
import { buildHead, concatPool } from '../head.ts';
import { Learner } from '../learner.ts';
import { exportStage, ExportedPredictor } from '../exported.ts';
import { saveStage, StagePredictor } from '../stages.ts';
import { makeShapesDataset, tinyBackbone } from '../test-fixtures.ts';
import { bodyFeaturesToOnnx, classifierToOnnx, layersModelToOnnx, UnsupportedLayerError } from './export.ts';
import { OnnxBodyRunner } from './body-runner.ts';
import { ONNX_MODEL_FILE, OnnxPredictor } from './predictor.ts';
import { createSession, loadOnnxRuntime, type Ort } from './runtime.ts';

let ort: Ort;

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
  const state = await loadOnnxRuntime();
  if (!state.available) throw new Error(`onnxruntime-node is a dependency and must load here: ${state.reason}`);
  ort = state.ort;
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

async function runOnnx(bytes: Uint8Array, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, Float32Array>> {
  const session = await createSession(ort, bytes, 1);
  try {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));
    const out = await session.run(inputs);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** Random weights everywhere (batchnorm statistics included) so that folding is exercised. */
function randomizeWeights(model: tf.LayersModel, seed: number): void {
  let s = seed;
  model.setWeights(
    model.weights.map((w) => {
      s += 1;
      const isVariance = /moving_variance/.test(w.originalName);
      return isVariance ? tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', s) : tf.randomNormal(w.shape as number[], 0, 0.5, 'float32', s);
    }),
  );
}

/** Builds input → layers → output, converts it, and compares both runtimes on random inputs. */
async function parity(shape: number[], build: (x: tf.SymbolicTensor) => tf.SymbolicTensor, tolerance = 1e-5): Promise<number> {
  const input = tf.input({ shape, name: 'x' });
  const model = tf.model({ inputs: input, outputs: build(input) });
  randomizeWeights(model, 3);
  const x = tf.randomUniform([3, ...shape], -2, 2, 'float32', 11);
  const expected = (model.predict(x) as tf.Tensor).dataSync();
  const got = await runOnnx(layersModelToOnnx(model), { input: { data: x.dataSync() as Float32Array, dims: [3, ...shape] } });
  const d = maxAbsDiff(expected, got.output!);
  expect(d).toBeLessThan(tolerance);
  x.dispose();
  model.dispose();
  return d;
}

const L = tf.layers;
const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

describe('ONNX export: one parity case per layer type (tfjs vs onnxruntime, max abs diff)', () => {
  it('conv2d: same/valid padding, strides 1/2, with and without bias, relu/relu6/linear/sigmoid/tanh activations', async () => {
    await parity([9, 11, 3], (x) => apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), x));
    await parity([9, 11, 3], (x) => apply(L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, activation: 'relu6' }), x));
    await parity([10, 10, 3], (x) => apply(L.conv2d({ filters: 5, kernelSize: [3, 2], strides: [2, 1], padding: 'valid', activation: 'linear' }), x));
    await parity([8, 8, 2], (x) => apply(L.conv2d({ filters: 3, kernelSize: 1, activation: 'sigmoid' }), x));
    await parity([8, 8, 2], (x) => apply(L.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' }), x));
  });

  it('depthwiseConv2d: stride 1/2, same/valid, depth multiplier 1 and 2', async () => {
    await parity([9, 9, 4], (x) => apply(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }), x));
    await parity([10, 9, 4], (x) => apply(L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same' }), x));
    await parity([9, 9, 3], (x) => apply(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid', activation: 'relu' }), x));
  });

  it('batchNormalization: folded into the conv before it, and standalone (4-D and 2-D)', async () => {
    await parity([8, 8, 3], (x) => apply(L.batchNormalization({ epsilon: 1e-3 }), apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }), x)));
    await parity([8, 8, 3], (x) => apply(L.batchNormalization({ epsilon: 1e-3 }), apply(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }), x)));
    await parity([8, 8, 3], (x) => apply(L.batchNormalization({ center: false }), x));
    await parity([12], (x) => apply(L.batchNormalization({ epsilon: 1e-5, scale: false }), x));
    // The conv's output also feeds another layer: no folding, both paths exact.
    await parity([8, 8, 3], (x) => {
      const c = apply(L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), x);
      return apply(L.add(), [apply(L.batchNormalization(), c), c]);
    });
  });

  it('ReLU / ReLU(maxValue 6) / LeakyReLU layers and Activation layers (relu6, softmax, elu)', async () => {
    await parity([6, 6, 3], (x) => apply(L.reLU(), apply(L.conv2d({ filters: 2, kernelSize: 1 }), x)));
    await parity([6, 6, 3], (x) => apply(L.reLU({ maxValue: 6 }), apply(L.dense({ units: 4 }), x)), 1e-5);
    await parity([5], (x) => apply(L.leakyReLU({ alpha: 0.1 }), x));
    await parity([6, 6, 3], (x) => apply(L.activation({ activation: 'relu6' }), apply(L.conv2d({ filters: 2, kernelSize: 1 }), x)));
    await parity([6, 6, 3], (x) => apply(L.activation({ activation: 'softmax' }), apply(L.conv2d({ filters: 4, kernelSize: 1 }), x)));
    await parity([7], (x) => apply(L.activation({ activation: 'elu' }), x));
  });

  it('zeroPadding2d (symmetric and asymmetric) before a valid conv', async () => {
    await parity([7, 7, 3], (x) => apply(L.conv2d({ filters: 2, kernelSize: 3, strides: 2 }), apply(L.zeroPadding2d({ padding: [[0, 1], [0, 1]] }), x)));
    await parity([5, 6, 2], (x) => apply(L.zeroPadding2d({ padding: 2 }), x));
  });

  it('global average / max pooling, max / average pooling', async () => {
    await parity([6, 7, 3], (x) => apply(L.globalAveragePooling2d({}), apply(L.conv2d({ filters: 4, kernelSize: 3 }), x)));
    await parity([6, 7, 3], (x) => apply(L.globalMaxPooling2d({}), x));
    await parity([7, 7, 3], (x) => apply(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x));
    await parity([8, 8, 3], (x) => apply(L.averagePooling2d({ poolSize: 2 }), apply(L.conv2d({ filters: 2, kernelSize: 1 }), x)));
  });

  it('dense (with/without bias, activations), dropout as identity, softmax', async () => {
    await parity([10], (x) => apply(L.dense({ units: 6, activation: 'softmax' }), apply(L.dropout({ rate: 0.5 }), apply(L.dense({ units: 8, useBias: false, activation: 'relu' }), x))));
  });

  it('flatten and reshape keep the NHWC element order after convolutions', async () => {
    await parity([5, 4, 3], (x) => apply(L.dense({ units: 3 }), apply(L.flatten(), apply(L.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }), x))));
    await parity([4, 4, 2], (x) => apply(L.reshape({ targetShape: [8, 4] }), apply(L.conv2d({ filters: 2, kernelSize: 1 }), x)));
    // MobileNet's own ending: pooled features reshaped to 1x1xC, a 1x1 conv, softmax, reshape.
    await parity([4, 4, 3], (x) => {
      let y = apply(L.globalAveragePooling2d({}), x);
      y = apply(L.reshape({ targetShape: [1, 1, 3] }), y);
      y = apply(L.conv2d({ filters: 5, kernelSize: 1 }), y);
      y = apply(L.activation({ activation: 'softmax' }), y);
      return apply(L.reshape({ targetShape: [5] }), y);
    });
  });

  it('concatenate and elementwise merges across layouts', async () => {
    await parity([6, 6, 3], (x) => {
      const a = apply(L.conv2d({ filters: 2, kernelSize: 1 }), x);
      return apply(L.concatenate({ axis: -1 }), [a, x]);
    });
    await parity([6, 6, 3], (x) => apply(L.multiply(), [apply(L.conv2d({ filters: 3, kernelSize: 1 }), x), x]));
  });

  it('refuses a layer it cannot convert, by name', () => {
    const input = tf.input({ shape: [4, 3] });
    const model = tf.model({ inputs: input, outputs: apply(L.lstm({ units: 2 }), input) });
    expect(() => layersModelToOnnx(model)).toThrow(UnsupportedLayerError);
    model.dispose();
  });
});

describe('ONNX export of Teddy models', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'teddy-onnx-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the head (both batchnorms, dropouts, dense, ReLU) and the whole classifier agree to 1e-4 on probabilities', async () => {
    const backbone = tinyBackbone();
    randomizeWeights(backbone.full, 5);
    const head = buildHead({ inputFeatures: 32, classCount: 3, hidden: 16, dropout: [0.25, 0.5], seed: 1 });
    randomizeWeights(head, 9);
    const x = tf.randomUniform([4, 32, 32, 3], -1, 1, 'float32', 2);
    const pixels = x.dataSync() as Float32Array;
    const expected = tf.tidy(() => tf.softmax(head.predict(concatPool(backbone.body.predict(x) as tf.Tensor4D)) as tf.Tensor2D).dataSync());
    const got = await runOnnx(classifierToOnnx(backbone.body, head), { input: { data: pixels, dims: [4, 32, 32, 3] } });
    expect(maxAbsDiff(expected, got.probabilities!)).toBeLessThan(1e-4);
    const features = tf.tidy(() => concatPool(backbone.body.predict(x) as tf.Tensor4D).dataSync());
    const body = await runOnnx(bodyFeaturesToOnnx(backbone.body), { input: { data: pixels, dims: [4, 32, 32, 3] } });
    expect(maxAbsDiff(features, body.features!)).toBeLessThan(1e-4);
    x.dispose();
    head.dispose();
    backbone.full.dispose();
  });

  it('a trained stage gets model.onnx; its ONNX predictions equal the tfjs StagePredictor’s to 1e-4', async () => {
    const items = await makeShapesDataset(join(dir, 'images'), 8, 40);
    const backbone = tinyBackbone();
    const runner = await OnnxBodyRunner.create(backbone.body);
    if (!runner.runner) throw new Error(runner.reason);
    const learner = new Learner({ backbone, items, batchSize: 8, seed: 42, bodyPool: runner.runner });
    const plain = new Learner({ backbone, items, batchSize: 8, seed: 42 });
    // The same pooled features from either runtime: the feature cache does not care which.
    const [a, b] = await Promise.all([learner.predictItems(items), plain.predictItems(items)]);
    expect(learner.bodyStats.images).toBe(items.length);
    for (let i = 0; i < a.length; i++) expect(maxAbsDiff(Object.values(a[i]!.probabilities), Object.values(b[i]!.probabilities))).toBeLessThan(1e-4);
    await learner.fitOneCycle(1, 3e-3);
    const path = await saveStage(learner, join(dir, 'stages'), 'stage-1');
    expect((await readdir(path)).sort()).toContain(ONNX_MODEL_FILE);
    const reference = await StagePredictor.load(path);
    const onnx = await OnnxPredictor.load(join(path, ONNX_MODEL_FILE), { classes: reference.classes, imageSize: reference.info.imageSize, normalization: reference.info.normalization });
    // 19 pictures: three pipelined chunks (8, 8, 3), which must come back in order.
    const files = items.slice(0, 19).map((i) => i.file);
    expect(files).toHaveLength(19);
    const [p1, p2] = [await reference.predictFiles(files), await onnx.predictFiles(files)];
    expect(p2).toHaveLength(19);
    for (let i = 0; i < files.length; i++) {
      expect(p2[i]!.label).toBe(p1[i]!.label);
      expect(maxAbsDiff(Object.values(p1[i]!.probabilities), Object.values(p2[i]!.probabilities))).toBeLessThan(1e-4);
    }
    // A broken picture in a chunk decoded ahead fails the call (the worker then scores one by one), and nothing is left unhandled.
    await expect(onnx.predictFiles([...files.slice(0, 10), Buffer.from('not a picture')])).rejects.toThrow();
    reference.dispose();
    onnx.dispose();
    await runner.runner.close();
    learner.dispose();
    plain.dispose();
    backbone.full.dispose();
  });

  it('the tfjs predictors score in chunks of 16 in input order, and fail cleanly on a broken picture in the chunk decoded ahead', async () => {
    const items = await makeShapesDataset(join(dir, 'chunked-images'), 8, 40);
    const backbone = tinyBackbone();
    const learner = new Learner({ backbone, items, batchSize: 8, seed: 42 });
    const stagePath = await saveStage(learner, join(dir, 'chunked-stages'), 'stage-1');
    await exportStage(stagePath, join(dir, 'chunked-export'), {});
    const stage = await StagePredictor.load(stagePath);
    const exported = await ExportedPredictor.load(join(dir, 'chunked-export'));
    // 19 pictures: chunks of 16 and 3; each picture scored alone is the reference for its place.
    const files = items.slice(0, 19).map((i) => i.file);
    const [s, e] = [await stage.predictFiles(files), await exported.predictFiles(files)];
    expect(s).toHaveLength(19);
    expect(e).toHaveLength(19);
    for (const i of [0, 15, 16, 18]) {
      const alone = (await stage.predictFiles([files[i]!]))[0]!;
      expect(s[i]!.label).toBe(alone.label);
      expect(maxAbsDiff(Object.values(s[i]!.probabilities), Object.values(alone.probabilities))).toBeLessThan(1e-5);
    }
    for (let i = 0; i < files.length; i++) expect(maxAbsDiff(Object.values(s[i]!.probabilities), Object.values(e[i]!.probabilities))).toBeLessThan(1e-5);
    const broken = [...files.slice(0, 17), Buffer.from('not a picture')];
    await expect(stage.predictFiles(broken)).rejects.toThrow();
    await expect(exported.predictFiles(broken)).rejects.toThrow();
    stage.dispose();
    exported.dispose();
    learner.dispose();
    backbone.full.dispose();
  });

  const mobilenetDir = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'models', DEFAULT_BACKBONE_ID);
  it.skipIf(!existsSync(join(mobilenetDir, 'model.json')))('MobileNet v1 0.75 (default backbone): pooled features to 1e-4, a classifier on it to 1e-4 on probabilities', async () => {
    const backbone = await loadBackboneFromDir(getBackboneSpec(DEFAULT_BACKBONE_ID), mobilenetDir);
    const head = buildHead({ inputFeatures: 1536, classCount: 3, hidden: 512, dropout: [0.25, 0.5], seed: 1 });
    randomizeWeights(head, 4);
    // Generated images: smooth gradients plus noise, in [-1, 1] like the backbone's input.
    const x = tf.tidy(() => {
      const ramp = tf.linspace(-1, 1, 224).reshape([1, 1, 224, 1]).tile([4, 224, 1, 3]);
      return tf.clipByValue(ramp.add(tf.randomNormal([4, 224, 224, 3], 0, 0.3, 'float32', 8)), -1, 1);
    }) as tf.Tensor4D;
    const pixels = x.dataSync() as Float32Array;
    const features = tf.tidy(() => concatPool(backbone.body.predict(x) as tf.Tensor4D).dataSync());
    const body = await runOnnx(bodyFeaturesToOnnx(backbone.body), { input: { data: pixels, dims: [4, 224, 224, 3] } });
    expect(maxAbsDiff(features, body.features!)).toBeLessThan(1e-4);
    const expected = tf.tidy(() => tf.softmax(head.predict(concatPool(backbone.body.predict(x) as tf.Tensor4D)) as tf.Tensor2D).dataSync());
    const got = await runOnnx(classifierToOnnx(backbone.body, head), { input: { data: pixels, dims: [4, 224, 224, 3] } });
    expect(maxAbsDiff(expected, got.probabilities!)).toBeLessThan(1e-4);
    x.dispose();
    head.dispose();
    backbone.full.dispose();
  });
});
