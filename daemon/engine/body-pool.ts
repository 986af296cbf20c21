/**
 * A pool of worker threads that compute the pretrained body's pooled activations in
 * parallel (see body-worker.js). Only for the frozen, pretrained body: a body being
 * fine-tuned lives in the main thread.
 */
import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { modelArtifacts } from './model-io.ts';

interface Pending {
  resolve: (data: Float32Array) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

export class BodyWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly waiting: Array<() => void> = [];
  private nextId = 1;

  private constructor() {}

  get size(): number {
    return this.slots.length;
  }

  /** Starts `count` workers holding the network `full`, cut at `cutLayer`. */
  static async start(full: tf.LayersModel, cutLayer: string, count: number): Promise<BodyWorkerPool> {
    const pool = new BodyWorkerPool();
    const artifacts = await modelArtifacts(full);
    try {
      await Promise.all(
        Array.from({ length: count }, async () => {
          const worker = new Worker(new URL('./body-worker.js', import.meta.url));
          worker.unref();
          const slot: Slot = { worker, busy: false };
          pool.slots.push(slot);
          await new Promise<void>((resolve, reject) => {
            const onMessage = (msg: { type: string; message?: string }) => {
              if (msg.type === 'ready') resolve();
              else if (msg.type === 'error') reject(new Error(msg.message));
            };
            worker.once('message', onMessage);
            worker.once('error', reject);
            worker.postMessage({ type: 'init', modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightSpecs, weightData: artifacts.weightData.slice(0), cutLayer });
          });
          worker.on('message', (msg: { type: string; id: number; data?: Float32Array; message?: string }) => pool.onMessage(slot, msg));
          worker.on('error', (err) => pool.failAll(err));
        }),
      );
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private onMessage(slot: Slot, msg: { type: string; id: number; data?: Float32Array; message?: string }): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    slot.busy = false;
    this.waiting.shift()?.();
    if (msg.type === 'result' && msg.data) p.resolve(msg.data);
    else p.reject(new Error(msg.message ?? 'body worker failed'));
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Pooled features [n, 2C] for `n` normalised images of `size`x`size` (pixels are transferred). */
  async run(pixels: Float32Array, n: number, size: number): Promise<Float32Array> {
    let slot = this.slots.find((s) => !s.busy);
    while (!slot) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      slot = this.slots.find((s) => !s.busy);
    }
    slot.busy = true;
    const id = this.nextId++;
    const chosen = slot;
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      chosen.worker.postMessage({ type: 'run', id, pixels, n, size }, [pixels.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
