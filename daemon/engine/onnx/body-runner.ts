/**
 * The frozen, pretrained body's pooled activations on onnxruntime: the same contract as
 * BodyWorkerPool (`size` batches in flight, `run(pixels, n, size)` → [n, 2C] concat(max, mean)),
 * so the learner uses either. Only for the pretrained body: a body being fine-tuned changes
 * every step and stays on tfjs.
 */
import type * as tf from '@tensorflow/tfjs';
import { bodyFeaturesToOnnx, ONNX_INPUT } from './export.ts';
import { loadOnnxRuntime, openSession, type Ort, type OrtSession } from './runtime.ts';

export interface OnnxBodyRunnerOptions {
  /** Intra-op threads of the session; default: all cores. */
  threads?: number;
}

export class OnnxBodyRunner {
  /**
   * One batch in flight: one session already uses every core, and decoding the next batch
   * (sharp, its own threads) overlaps with it through the learner's prefetch.
   */
  readonly size = 1;
  private closed = false;

  private constructor(
    private readonly ort: Ort,
    private readonly session: OrtSession,
    readonly description: string,
  ) {}

  /** Null (with the reason) when onnxruntime is unavailable or the body does not convert. */
  static async create(body: tf.LayersModel, options: OnnxBodyRunnerOptions = {}): Promise<{ runner: OnnxBodyRunner } | { runner: null; reason: string }> {
    const state = await loadOnnxRuntime();
    if (!state.available) return { runner: null, reason: `onnxruntime-node unavailable: ${state.reason}` };
    try {
      const { session, description } = await openSession(state, bodyFeaturesToOnnx(body), options.threads);
      return { runner: new OnnxBodyRunner(state.ort, session, description) };
    } catch (err) {
      return { runner: null, reason: `the body did not convert to ONNX: ${(err as Error).message}` };
    }
  }

  async run(pixels: Float32Array, n: number, size: number): Promise<Float32Array> {
    if (this.closed) throw new Error('the ONNX body runner is closed');
    const input = new this.ort.Tensor('float32', pixels, [n, size, size, 3]);
    const out = await this.session.run({ [ONNX_INPUT]: input });
    const features = out.features as import('onnxruntime-node').Tensor;
    return features.data as Float32Array;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}
