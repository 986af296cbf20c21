/**
 * onnxruntime-node, loaded on demand: a native package that may be missing or fail to load
 * (another platform, a broken install). Then inference stays on tfjs and the reason is kept
 * for the status line. `TEDDY_ONNX=off` forces tfjs; `TEDDY_ONNX_THREADS` sets intra-op
 * threads (default: all cores, measured best on 2 cores at batch 16).
 */
import { availableParallelism } from 'node:os';

export type Ort = typeof import('onnxruntime-node');
export type OrtSession = import('onnxruntime-node').InferenceSession;

export type OnnxRuntimeState = { available: true; ort: Ort; version: string; threads: number } | { available: false; reason: string };
export type LoadedOnnxRuntime = Extract<OnnxRuntimeState, { available: true }>;

let loading: Promise<OnnxRuntimeState> | undefined;

export function defaultOnnxThreads(): number {
  const fromEnv = Number(process.env.TEDDY_ONNX_THREADS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.max(1, availableParallelism());
}

export function loadOnnxRuntime(): Promise<OnnxRuntimeState> {
  loading ??= (async (): Promise<OnnxRuntimeState> => {
    if (process.env.TEDDY_ONNX === 'off' || process.env.TEDDY_ONNX === '0') return { available: false, reason: 'disabled by TEDDY_ONNX=off' };
    try {
      const mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
      const ort = (mod.InferenceSession ? mod : mod.default) as Ort;
      const version = ort.env?.versions?.node ?? ort.env?.versions?.common ?? 'unknown';
      return { available: true, ort, version, threads: defaultOnnxThreads() };
    } catch (err) {
      return { available: false, reason: ((err as Error).message ?? String(err)).split('\n')[0]! };
    }
  })();
  return loading;
}

/** The runtime, or an error saying why there is none: callers then stay on tfjs. */
export async function requireOnnxRuntime(): Promise<LoadedOnnxRuntime> {
  const state = await loadOnnxRuntime();
  if (!state.available) throw new Error(`onnxruntime-node unavailable: ${state.reason}`);
  return state;
}

export function describeOnnxRuntime(version: string, threads: number): string {
  return `onnxruntime-node ${version} (${threads} threads)`;
}

/** For the status line: which runtime serves inference, and why. */
export async function onnxStatusLine(): Promise<string> {
  const state = await loadOnnxRuntime();
  return state.available ? `inference: ${describeOnnxRuntime(state.version, state.threads)}` : `inference: tfjs (onnxruntime-node unavailable: ${state.reason})`;
}

/** A session with `threads` intra-op threads (default: the runtime's), and its description for status lines. */
export async function openSession(runtime: LoadedOnnxRuntime, model: Uint8Array, threads?: number): Promise<{ session: OrtSession; description: string }> {
  const n = threads ?? runtime.threads;
  return { session: await createSession(runtime.ort, model, n), description: describeOnnxRuntime(runtime.version, n) };
}

export async function createSession(ort: Ort, model: Uint8Array | string, threads: number): Promise<OrtSession> {
  return ort.InferenceSession.create(model as Uint8Array, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Between two runs the pool's threads would otherwise spin, taking a core from the
    // decoding of the next batch: with spinning, decoding 16 images took 22 ms instead of 15.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
}
