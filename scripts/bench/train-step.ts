/**
 * `npm run bench -- train-step [--runs N] [--no-cpu] [--profile] [--train-bn]`
 *
 * One full training step (forward + backward + Adam update) of the default backbone
 * (MobileNet v1 0.75/224 truncated at conv_pw_13_relu, plus global pooling and a dense
 * head), every layer trainable, batch 16 at 224 px, random input, on the wasm backend
 * with our gradient kernels; compared with one inference forward pass of the same
 * network, and with the same step on the pure-JS cpu backend.
 * Batch norm uses its stored statistics (inference mode, as Keras advises when fine-tuning
 * a pretrained body) while its scale and offset train; --train-bn uses batch statistics
 * instead, which at batch 16 needs more than the 4 GiB a wasm32 heap can hold (tfjs-layers
 * keeps ~140 MB of activations per 224 px image for it).
 * Last line: {"bench":"train-step","backend":"wasm","batch":16,"forward_ms":F,"step_ms":S,
 * "step_to_forward_ratio":S/F,"cpu_step_ms":C}
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../daemon/engine/kernels/index.ts';
import { loadLayersModelFromDir } from '../../daemon/engine/model-io.ts';
import { benchModelDir, MOBILENET_FOLDER, numberArg, round, SHARED_MODELS } from './util.ts';

const BATCH = 16;
const SIZE = 224;
const CLASSES = 3;

async function loadBody(): Promise<tf.LayersModel> {
  // Named even when absent, so the error says where the model was looked for.
  const dir = benchModelDir(MOBILENET_FOLDER) ?? join(SHARED_MODELS, MOBILENET_FOLDER);
  const file = join(dir, 'model.json');
  if (!existsSync(file)) throw new Error(`no model at ${file} (set TEDDY_MODEL_DIR)`);
  const base = await loadLayersModelFromDir(dir);
  const features = base.getLayer('conv_pw_13_relu').output as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(features) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: CLASSES }).apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: base.inputs, outputs: logits });
  for (const layer of model.layers) layer.trainable = true;
  return model;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function makeStep(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, trainingBN: boolean) {
  const optimizer = tf.train.adam(1e-4);
  return () => {
    const loss = optimizer.minimize(() => {
      const logits = model.apply(x, { training: trainingBN }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    }, true);
    loss?.dataSync();
    loss?.dispose();
  };
}

function timeIt(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

async function profileStep(step: () => void): Promise<void> {
  const info = await tf.profile(step);
  const byKernel = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const ms = Number(await k.kernelTimeMs) || 0;
    const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += ms;
    e.n += 1;
    byKernel.set(k.name, e);
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((a, [, e]) => a + e.ms, 0);
  console.log(`kernel time in one step: ${total.toFixed(0)} ms`);
  for (const [name, e] of rows.slice(0, 25)) console.log(`  ${name.padEnd(40)} ${e.ms.toFixed(1).padStart(8)} ms  x${e.n}`);
}

export async function main(args: string[]): Promise<void> {
  const runs = numberArg(args, 'runs', 5);
  const withCpu = !args.includes('--no-cpu');
  const trainingBN = args.includes('--train-bn');

  await tf.setBackend('wasm');
  await tf.ready();
  registerWasmTrainingKernels();
  const model = await loadBody();
  const x = tf.randomUniform([BATCH, SIZE, SIZE, 3], -1, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([BATCH], 0, CLASSES, 'int32', 2), CLASSES).toFloat();

  const forward = () => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
  const step = makeStep(model, x, y, trainingBN);
  forward();
  step(); // warm-up: creates XNNPACK operators and optimizer slots
  // Interleaved, so that load from other processes hits both figures alike.
  const forwardTimes: number[] = [];
  const stepTimes: number[] = [];
  for (let r = 0; r < runs; r++) {
    forwardTimes.push(timeIt(forward));
    stepTimes.push(timeIt(step));
  }
  const forwardMs = median(forwardTimes);
  const stepMs = median(stepTimes);
  console.log(`wasm forward: ${forwardTimes.map((t) => t.toFixed(0)).join(' ')} ms (median ${forwardMs.toFixed(0)})`);
  console.log(`wasm step: ${stepTimes.map((t) => t.toFixed(0)).join(' ')} ms (median ${stepMs.toFixed(0)})`);
  if (args.includes('--profile')) await profileStep(step);

  let cpuStepMs: number | null = null;
  if (withCpu) {
    await tf.setBackend('cpu');
    const cpuStep = makeStep(model, x, y, trainingBN);
    cpuStepMs = timeIt(cpuStep);
    console.log(`cpu step: ${cpuStepMs.toFixed(0)} ms`);
  }

  console.log(JSON.stringify({
    bench: 'train-step',
    backend: 'wasm',
    batch: BATCH,
    forward_ms: round(forwardMs, 1),
    step_ms: round(stepMs, 1),
    step_to_forward_ratio: round(stepMs / forwardMs),
    cpu_step_ms: cpuStepMs == null ? null : round(cpuStepMs, 1),
  }));
}
