/**
 * Chooses the TensorFlow.js backend once per process. Order: TEDDY_BACKEND if set, else
 * tfjs-node-gpu (when installed and a GPU answers), else tfjs-node (when installed), else
 * wasm (embedded, the default everywhere the native packages cannot install), else cpu.
 * The native packages are optional: they are loaded by dynamic import and their absence is
 * a reason in the status, never an error.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from './kernels/index.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendStatus {
  /** tfjs backend name in use: 'tensorflow' (tfjs-node / tfjs-node-gpu), 'wasm' or 'cpu'. */
  backend: string;
  /** Which package provides it, e.g. '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-wasm'. */
  provider: string;
  /** Plain-words reason for the choice, including what was tried and why it was skipped. */
  reason: string;
  /** Whether the conv body can be fine-tuned here (all its gradient kernels exist). */
  canTrainBody: boolean;
  /** Extra kernels registered for training on wasm (from daemon/engine/kernels). */
  registeredKernels: string[];
}

/** Gradient kernels a depthwise-separable conv body needs beyond the forward pass. */
export const BODY_TRAINING_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] as const;

export function backendCanTrainBody(backend: string): boolean {
  const names = new Set(tf.getKernelsForBackend(backend).map((k) => k.kernelName));
  return BODY_TRAINING_KERNELS.every((k) => names.has(k));
}

let current: BackendStatus | null = null;
/** Registered once per process, whatever the number of (re)initialisations. */
let wasmKernels: string[] | null = null;
let pending: Promise<BackendStatus> | null = null;

export function getBackendStatus(): BackendStatus | null {
  return current;
}

export type BackendChoice = 'gpu' | 'node' | 'wasm' | 'cpu';

/** Reads a TEDDY_BACKEND value; null when unset. */
export function parseBackendChoice(value: string | undefined): BackendChoice | null {
  if (!value) return null;
  const v = value.trim().toLowerCase();
  if (v === 'gpu' || v === 'tfjs-node-gpu' || v === 'tensorflow-gpu') return 'gpu';
  if (v === 'node' || v === 'tfjs-node' || v === 'tensorflow') return 'node';
  if (v === 'wasm') return 'wasm';
  if (v === 'cpu') return 'cpu';
  throw new Error(`TEDDY_BACKEND=${value} is not one of gpu, node, wasm, cpu`);
}

async function importOptional(name: string): Promise<unknown> {
  // A variable specifier keeps TypeScript and bundlers from requiring the package to exist.
  const specifier: string = name;
  return import(specifier);
}

async function tryNative(gpu: boolean): Promise<{ ok: true; provider: string; note: string } | { ok: false; why: string }> {
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  let mod: unknown;
  try {
    mod = await importOptional(pkg);
  } catch (err) {
    return { ok: false, why: `${pkg} is not installed (${shortError(err)})` };
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) return { ok: false, why: `${pkg} loaded but its backend failed to start` };
    await tf.ready();
    tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
    if (gpu) {
      const binding = (tf.backend() as unknown as { binding?: { isUsingGpuDevice?: () => boolean } }).binding;
      const usingGpu = binding?.isUsingGpuDevice?.();
      if (usingGpu === false) return { ok: false, why: `${pkg} loaded but found no usable GPU` };
    }
    void mod;
    return { ok: true, provider: pkg, note: gpu ? 'a GPU answered' : 'native TensorFlow on the CPU' };
  } catch (err) {
    return { ok: false, why: `${pkg} failed: ${shortError(err)}` };
  }
}

async function startWasm(): Promise<{ ok: true; kernels: string[] } | { ok: false; why: string }> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    wasmKernels ??= registerWasmTrainingKernels();
    const kernels = wasmKernels;
    if (!(await tf.setBackend('wasm'))) return { ok: false, why: 'the wasm backend failed to start' };
    await tf.ready();
    return { ok: true, kernels };
  } catch (err) {
    return { ok: false, why: `wasm failed: ${shortError(err)}` };
  }
}

async function select(forced: BackendChoice | null): Promise<BackendStatus> {
  const skipped: string[] = [];
  const order: BackendChoice[] = forced ? [forced] : ['gpu', 'node', 'wasm', 'cpu'];
  for (const choice of order) {
    if (choice === 'gpu' || choice === 'node') {
      const r = await tryNative(choice === 'gpu');
      if (r.ok) return status('tensorflow', r.provider, forced ? `forced by TEDDY_BACKEND (${r.note})` : `${r.note}`, skipped, []);
      skipped.push(r.why);
    } else if (choice === 'wasm') {
      const r = await startWasm();
      if (r.ok) return status('wasm', '@tensorflow/tfjs-backend-wasm', forced ? 'forced by TEDDY_BACKEND' : 'embedded default', skipped, r.kernels);
      skipped.push(r.why);
    } else {
      await tf.setBackend('cpu');
      await tf.ready();
      return status('cpu', '@tensorflow/tfjs (pure JavaScript)', forced ? 'forced by TEDDY_BACKEND' : 'last resort', skipped, []);
    }
  }
  throw new Error(`TEDDY_BACKEND=${forced} could not start: ${skipped.join('; ')}`);
}

function status(backend: string, provider: string, why: string, skipped: string[], kernels: string[]): BackendStatus {
  const canTrainBody = backendCanTrainBody(backend);
  const parts = [`${provider}: ${why}`];
  if (skipped.length) parts.push(`skipped: ${skipped.join('; ')}`);
  parts.push(canTrainBody ? 'the whole network can be fine-tuned' : 'only the head can be trained (the body lacks gradient kernels on this backend)');
  return { backend, provider, reason: parts.join('. '), canTrainBody, registeredKernels: kernels };
}

function shortError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]?.slice(0, 200) ?? msg;
}

/**
 * Starts the backend (idempotent). `force` overrides TEDDY_BACKEND, which overrides the
 * automatic order.
 */
export async function initBackend(options: { force?: BackendChoice } = {}): Promise<BackendStatus> {
  if (current && !options.force) return current;
  if (pending && !options.force) return pending;
  const forced = options.force ?? parseBackendChoice(process.env.TEDDY_BACKEND);
  pending = select(forced).then((s) => {
    current = s;
    return s;
  });
  try {
    return await pending;
  } finally {
    pending = null;
  }
}
