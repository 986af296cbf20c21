/**
 * Prediction latency through the whole path (client → websocket → daemon → worker thread →
 * back) against the network's own forward pass on the runtime the worker used (onnxruntime
 * on the exported model.onnx, else tfjs on the exported model.json).
 * Last line: {"bench":"predict","backend":B,"runtime":"onnxruntime"|"tfjs","ms_per_image_b1":X,
 *   "ms_per_image_b16":Y,"body_forward_ms_per_image":Z,"overhead_ratio":Y/Z,
 *   "cpu_ms_per_image_b16":C,"forward_cpu_ms_per_image":F}
 * C and F are CPU time (all threads of the process) per image: the whole path at batch 16,
 * and the forward pass alone. C / cores is the least wall time per image any overlap of the
 * stages could reach, so C / (cores · Z) bounds overhead_ratio from below on this machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildConfig } from '../../daemon/config.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { initBackend } from '../../daemon/engine/index.ts';
import { loadLayersModelFromDir } from '../../daemon/engine/model-io.ts';
import { ONNX_MODEL_FILE, OnnxPredictor } from '../../daemon/engine/onnx/predictor.ts';
import { connectClient, removeTempDirs, tempDataDir } from '../../tests/helpers/daemonProcess.ts';
import { generatedJpeg } from '../../tests/helpers/images.ts';
import { benchModelDir, MOBILENET_FOLDER, round } from './util.ts';

const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;

export async function main(): Promise<void> {
  const modelDir = benchModelDir(MOBILENET_FOLDER);
  const status = await initBackend();
  const images = await Promise.all(Array.from({ length: 48 }, (_, i) => generatedJpeg(i + 1, 320, 240)));

  const config = buildConfig({ dataDir: tempDataDir('teddy-bench-'), port: 0 });
  config.engine.modelDir = modelDir;
  const daemon = await startDaemon(config);
  const client = await connectClient(daemon.port, daemon.token);
  try {
    // A quickly trained model: what it predicts does not matter here, only how fast.
    const data = tempDataDir('teddy-bench-data-');
    images.slice(0, 36).forEach((img, i) => {
      const dir = join(data, ['a', 'b', 'c'][i % 3]!);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${i}.jpg`), img);
    });
    await client.request('dataset.create', { name: 'bench' });
    const imported = await client.request('job.import', { dataset: 'bench', dir: data });
    await daemon.jobs.settle(imported.job.id);
    const trained = await client.request('train.start', { dataset: 'bench', options: { stage1Epochs: 1, stage2: 'off', augmentDraws: 1 } });
    await daemon.jobs.settle(trained.job.id);
    const payloads = images.map((b) => b.toString('base64'));
    // Warm-up: loads the model in the worker.
    await Promise.all(payloads.slice(0, 16).map((data) => client.request('predict.image', { dataset: 'bench', data })));

    let started = performance.now();
    const singles = 16;
    for (let i = 0; i < singles; i++) await client.request('predict.image', { dataset: 'bench', data: payloads[i]! });
    const msB1 = (performance.now() - started) / singles;

    const rounds = 3;
    const cpuBefore = process.cpuUsage();
    started = performance.now();
    for (let r = 0; r < rounds; r++) {
      await Promise.all(payloads.slice(r * 16, r * 16 + 16).map((data) => client.request('predict.image', { dataset: 'bench', data })));
    }
    const msB16 = (performance.now() - started) / (rounds * 16);
    const cpuB16 = cpuMs(process.cpuUsage(cpuBefore)) / (rounds * 16);

    // The network alone: the exported classifier's forward pass at batch 16 on ready tensors.
    const exportDir = join(tempDataDir('teddy-bench-export-'), 'model');
    await client.request('model.export', { dataset: 'bench', dir: exportDir });
    const runtime = daemon.predictions.stats.runtime ?? 'tfjs';
    const times: number[] = [];
    let cpuForwardBefore = process.cpuUsage();
    if (runtime === 'onnxruntime') {
      const onnx = await OnnxPredictor.load(join(exportDir, ONNX_MODEL_FILE), { classes: ['a', 'b', 'c'], imageSize: 224, normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
      const pixels = Float32Array.from({ length: 16 * 224 * 224 * 3 }, () => Math.random() * 2 - 1);
      await onnx.forward(pixels, 16);
      cpuForwardBefore = process.cpuUsage();
      for (let r = 0; r < 3; r++) {
        const t = performance.now();
        await onnx.forward(pixels, 16);
        times.push((performance.now() - t) / 16);
      }
      onnx.dispose();
    } else {
      const network = await loadLayersModelFromDir(exportDir);
      const input = tf.randomUniform([16, 224, 224, 3], -1, 1);
      tf.tidy(() => network.predict(input) as tf.Tensor).dataSync();
      cpuForwardBefore = process.cpuUsage();
      for (let r = 0; r < 3; r++) {
        const t = performance.now();
        const out = network.predict(input) as tf.Tensor;
        await out.data();
        out.dispose();
        times.push((performance.now() - t) / 16);
      }
      input.dispose();
      network.dispose();
    }
    const cpuForward = cpuMs(process.cpuUsage(cpuForwardBefore)) / (times.length * 16);
    const forward = times.sort((a, b) => a - b)[1]!;
    console.error(`worker: ${daemon.predictions.stats.images} images in ${daemon.predictions.stats.batches} batches, ${round(daemon.predictions.stats.forwardMs / daemon.predictions.stats.images)} ms/image inside the worker`);
    console.log(
      JSON.stringify({
        bench: 'predict',
        backend: status.backend,
        runtime,
        ms_per_image_b1: round(msB1),
        ms_per_image_b16: round(msB16),
        body_forward_ms_per_image: round(forward),
        overhead_ratio: round(msB16 / forward, 3),
        cpu_ms_per_image_b16: round(cpuB16),
        forward_cpu_ms_per_image: round(cpuForward),
      }),
    );
  } finally {
    client.close();
    await daemon.stop();
    removeTempDirs();
  }
}
