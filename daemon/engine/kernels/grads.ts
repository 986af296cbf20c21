/**
 * Faster gradients on wasm for the element-wise layers of a MobileNet block.
 *
 * tfjs-core's gradient of FusedBatchNorm tiles rsqrt(variance) to the full activation
 * shape and makes several full-size passes (Tile alone was a third of a training step on
 * wasm); ReLU's and Minimum's gradients (ReLU6 is `minimum(6, relu(x))` in tfjs-layers)
 * each make 3 passes through slow broadcasting kernels. Here each becomes one pass, in
 * two small kernels registered for wasm only:
 *   TeddyBatchNormGrad: dx = dy·k[c], s1[c] = Σ dy, s2[c] = Σ dy·(x − mean[c])
 *   TeddyMaskedGrad:    dx = cond(v) ? dy : 0, cond one of v > t, v < t, v ≤ t
 * The gradients are re-registered to use them when the active backend is wasm and the
 * shapes are the plain NHWC/per-channel ones, and to delegate to tfjs-core's own
 * gradient otherwise (other backends, other shapes), so the maths is unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { heapF32, offsetOf, originalKernelFunc, type WasmBackendLike } from './ops.ts';
import { teddySimd, withScratch } from './simd.ts';

export const BATCH_NORM_GRAD = 'TeddyBatchNormGrad';
export const MASKED_GRAD = 'TeddyMaskedGrad';

type MaskMode = 'gt' | 'lt' | 'le';

/** One pass over dy and x. Accumulates per channel in float64. */
export function batchNormGradJS(
  dy: Float32Array, x: Float32Array, mean: Float32Array, k: Float32Array,
  dx: Float32Array, s1: Float32Array, s2: Float32Array,
): void {
  const ch = mean.length;
  const a1 = new Float64Array(ch);
  const a2 = new Float64Array(ch);
  const rows = dy.length / ch;
  // Per-row float32 partial sums would lose little, but float64 costs nothing here.
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < ch; c++, i++) {
      const d = dy[i]!;
      dx[i] = d * k[c]!;
      a1[c]! += d;
      a2[c]! += d * (x[i]! - mean[c]!);
    }
  }
  s1.set(a1);
  s2.set(a2);
}

export function maskedGradJS(dy: Float32Array, v: Float32Array, out: Float32Array, mode: MaskMode, t: number): void {
  const n = dy.length;
  if (mode === 'gt') for (let i = 0; i < n; i++) out[i] = v[i]! > t ? dy[i]! : 0;
  else if (mode === 'lt') for (let i = 0; i < n; i++) out[i] = v[i]! < t ? dy[i]! : 0;
  else for (let i = 0; i < n; i++) out[i] = v[i]! <= t ? dy[i]! : 0;
}

function batchNormGradKernel(args: { inputs: NamedTensorInfoMap; backend: unknown }): TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { dy, x, mean, k } = args.inputs as Record<string, TensorInfo>;
  const ch = mean!.shape[0]!;
  const dx = backend.makeOutput(x!.shape, 'float32');
  const s1 = backend.makeOutput([ch], 'float32');
  const s2 = backend.makeOutput([ch], 'float32');
  const simd = ch % 4 === 0 ? teddySimd(backend) : null;
  if (simd) {
    const o = (t: TensorInfo) => offsetOf(backend, t);
    withScratch(backend, [2 * ch, 4 * ch], (f32, f64) => simd.bn_grad(
      o(dy!), o(x!), o(mean!), o(k!), o(dx), o(s1), o(s2), tf.util.sizeFromShape(x!.shape) / ch, ch, f32!, f64!));
    return [dx, s1, s2];
  }
  batchNormGradJS(heapF32(backend, dy!), heapF32(backend, x!), heapF32(backend, mean!), heapF32(backend, k!),
    heapF32(backend, dx), heapF32(backend, s1), heapF32(backend, s2));
  return [dx, s1, s2];
}

function maskedGradKernel(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, v } = args.inputs as Record<string, TensorInfo>;
  const { mode, threshold } = args.attrs as unknown as { mode: MaskMode; threshold: number };
  const out = backend.makeOutput(dy!.shape, 'float32');
  const simd = teddySimd(backend);
  if (simd) {
    const size = tf.util.sizeFromShape(dy!.shape);
    simd.masked_grad(offsetOf(backend, dy!), offsetOf(backend, v!), offsetOf(backend, out), size,
      mode === 'gt' ? 0 : mode === 'lt' ? 1 : 2, threshold);
    return out;
  }
  maskedGradJS(heapF32(backend, dy!), heapF32(backend, v!), heapF32(backend, out), mode, threshold);
  return out;
}

/**
 * Minimum with a scalar side (tfjs-layers' ReLU6 is minimum(6, relu(x))): the backend's
 * broadcasting path costs ~30% of a MobileNet forward pass; this is one SIMD pass.
 */
function minimumKernel(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { a, b } = args.inputs as Record<string, TensorInfo>;
  const size = (t: TensorInfo) => tf.util.sizeFromShape(t.shape);
  const simd = teddySimd(backend);
  const scalarSide = size(a!) === 1 ? a! : size(b!) === 1 ? b! : null;
  if (simd && scalarSide && a!.dtype === 'float32' && b!.dtype === 'float32') {
    const full = scalarSide === a ? b! : a!;
    const s = heapF32(backend, scalarSide)[0]!;
    const out = backend.makeOutput(tf.backend_util.assertAndGetBroadcastShape(a!.shape, b!.shape), 'float32');
    simd.min_scalar(offsetOf(backend, full), offsetOf(backend, out), size(full), s);
    return out;
  }
  const original = originalKernelFunc('Minimum', backend);
  if (!original) throw new Error('Minimum: no wasm kernel to fall back on');
  return original(args as never) as TensorInfo;
}

export const gradKernels: ReadonlyArray<[string, KernelFunc]> = [
  [BATCH_NORM_GRAD, batchNormGradKernel as unknown as KernelFunc],
  [MASKED_GRAD, maskedGradKernel as unknown as KernelFunc],
  ['Minimum', minimumKernel as unknown as KernelFunc],
];

const onWasm = () => tf.getBackend() === 'wasm';
const f32 = (...ts: Array<tf.Tensor | undefined>) => ts.every((t) => t == null || t.dtype === 'float32');

function masked(dy: tf.Tensor, v: tf.Tensor, mode: MaskMode, threshold: number): tf.Tensor {
  return tf.engine().runKernel(MASKED_GRAD, { dy, v }, { mode, threshold } as never) as tf.Tensor;
}

function fusedBatchNormGrad(original: GradConfig): GradConfig {
  return {
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const d = Array.isArray(dy) ? dy[0]! : dy;
      if (!onWasm() || x.rank !== 4 || mean.rank !== 1 || variance.rank !== 1 || (scale && scale.rank !== 1)
        || mean.shape[0] !== x.shape[3] || !f32(d, x, mean, variance, scale)) {
        return original.gradFunc(dy, saved, attrs);
      }
      const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      const r = tf.rsqrt(tf.add(variance, eps));
      const k = scale ? tf.mul(scale, r) : r;
      const [dx, s1, s2] = tf.engine().runKernel(BATCH_NORM_GRAD, { dy: d, x, mean, k }, {}) as tf.Tensor[];
      return {
        x: () => dx!,
        mean: () => tf.neg(tf.mul(s1!, k)),
        variance: () => tf.mul(tf.mul(s2!, scale ?? 1), tf.mul(tf.pow(r, 3), -0.5)),
        scale: () => tf.mul(s2!, r),
        offset: () => s1!,
      };
    },
  };
}

function reluGrad(original: GradConfig): GradConfig {
  return {
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const d = Array.isArray(dy) ? dy[0]! : dy;
      if (!onWasm() || !f32(d, x)) return original.gradFunc(dy, saved, attrs);
      return { x: () => masked(d, x, 'gt', 0) };
    },
  };
}

/** minimum(a, b): da = dy·(a ≤ b), db = dy·(a > b); fast when the other side is a scalar. */
function minimumGrad(original: GradConfig): GradConfig {
  return {
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const d = Array.isArray(dy) ? dy[0]! : dy;
      const base = original.gradFunc(dy, saved, attrs);
      if (!onWasm() || !f32(d, a, b)) return base;
      const same = (t: tf.Tensor) => t.size === d.size && t.rank === d.rank;
      if (a.size === 1 && same(b)) {
        const av = a.dataSync()[0]!;
        return { ...base, b: () => masked(d, b, 'lt', av) };
      }
      if (b.size === 1 && same(a)) {
        const bv = b.dataSync()[0]!;
        return { ...base, a: () => masked(d, a, 'le', bv) };
      }
      return base;
    },
  };
}

const wrappers: ReadonlyArray<[string, (g: GradConfig) => GradConfig]> = [
  ['FusedBatchNorm', fusedBatchNormGrad],
  ['Relu', reluGrad],
  ['Minimum', minimumGrad],
];
const wrapped = new Set<string>();

/** Re-registers the gradients above (once); returns their kernel names. */
export function registerFastGradients(): string[] {
  for (const [name, wrap] of wrappers) {
    if (wrapped.has(name)) continue;
    const original = tf.getGradient(name);
    if (!original) continue;
    tf.registerGradient(wrap(original));
    wrapped.add(name);
  }
  return [...wrapped];
}
