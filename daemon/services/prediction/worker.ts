/**
 * The prediction worker: its own TensorFlow.js backend on its own thread, so that
 * overlay predictions neither wait for a training job's batches nor slow the event loop
 * that serves every client.
 */
import { parentPort } from 'node:worker_threads';
import { ExportedPredictor } from '../../engine/exported.ts';
import { initBackend, StagePredictor } from '../../engine/index.ts';
import type { Prediction } from '../../engine/learner.ts';
import { loadOnnxPredictorForFolder } from '../../engine/onnx/predictor.ts';
import type { ImageOutcome, PredictionRuntime, PredictReply, PredictRequest } from './messages.ts';

interface Loaded {
  path: string;
  runtime: PredictionRuntime;
  classes: string[];
  predict(inputs: readonly Buffer[]): Promise<Prediction[]>;
  dispose(): void;
}

let loaded: Loaded | undefined;

async function modelFor(request: PredictRequest): Promise<Loaded> {
  if (loaded?.path === request.modelPath) return loaded;
  loaded?.dispose();
  loaded = undefined;
  let runtime: PredictionRuntime = 'onnxruntime';
  // onnxruntime first (several times faster on CPU); tfjs when there is no runtime or no model.onnx.
  const predictor = await loadOnnxPredictorForFolder(request.modelPath, request.modelKind).catch(async () => {
    runtime = 'tfjs';
    return request.modelKind === 'stage' ? StagePredictor.load(request.modelPath) : ExportedPredictor.load(request.modelPath);
  });
  loaded = {
    path: request.modelPath,
    runtime,
    classes: predictor.classes,
    predict: (inputs) => predictor.predictFiles(inputs),
    dispose: () => predictor.dispose(),
  };
  return loaded;
}

async function handle(request: PredictRequest): Promise<PredictReply> {
  await initBackend();
  const model = await modelFor(request);
  const buffers = request.images.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const started = performance.now();
  const toOutcome = (p: Prediction): ImageOutcome => ({ probabilities: model.classes.map((c) => p.probabilities[c] ?? 0) });
  let outcomes: ImageOutcome[];
  try {
    outcomes = (await model.predict(buffers)).map(toOutcome);
  } catch {
    // One undecodable image must not sink the others of its batch: score them one by one.
    outcomes = [];
    for (const buffer of buffers) {
      try {
        outcomes.push(toOutcome((await model.predict([buffer]))[0]!));
      } catch (err) {
        outcomes.push({ error: `not a usable image: ${(err as Error).message.split('\n')[0]}` });
      }
    }
  }
  return { id: request.id, ok: true, classes: model.classes, outcomes, forwardMs: performance.now() - started, runtime: model.runtime };
}

parentPort!.on('message', (request: PredictRequest) => {
  handle(request).then(
    (reply) => parentPort!.postMessage(reply),
    (err: Error) => parentPort!.postMessage({ id: request.id, ok: false, error: err.message } satisfies PredictReply),
  );
});
