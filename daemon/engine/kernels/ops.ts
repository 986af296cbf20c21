/**
 * Small toolkit for writing wasm-backend kernels by composing the backend's own
 * (XNNPACK-backed) kernels: every intermediate is tracked and released at the end, and
 * the heap can be viewed directly for the parts written in JS or in our own wasm.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataId, KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';

/** The parts of the tfjs wasm backend (`BackendWasm`) these kernels use. */
export interface WasmBackendLike {
  dataIdMap: {
    get(dataId: DataId): { id: number; memoryOffset: number; shape: number[]; dtype: string; refCount: number };
    has(dataId: DataId): boolean;
  };
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
  incRef(dataId: DataId): void;
  wasm: { HEAPU8: Uint8Array; HEAPF32: Float32Array; asm?: { memory?: { buffer: ArrayBuffer } } };
}

export type Pads = { top: number; bottom: number; left: number; right: number };

/** Kernels of the wasm backend that were replaced by ours, kept to fall back on. */
export const originalWasmKernels = new Map<string, KernelConfig>();
const setUp = new WeakSet<object>();

/** The backend's own kernel `name` (set up for `backend` if it was replaced before init). */
export function originalKernelFunc(name: string, backend: WasmBackendLike): KernelFunc | undefined {
  const config = originalWasmKernels.get(name);
  if (!config) return undefined;
  if (config.setupFunc && !setUp.has(config)) {
    config.setupFunc(backend as never);
    setUp.add(config);
  }
  return config.kernelFunc;
}

function kernelFuncFor(name: string, backend: WasmBackendLike): KernelFunc {
  const original = originalKernelFunc(name, backend);
  if (original) return original;
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no ${name} kernel`);
  return k.kernelFunc;
}

/** Runs backend kernels and frees every intermediate on `dispose()` except those kept. */
export class Composer {
  private readonly temps: TensorInfo[] = [];

  constructor(readonly backend: WasmBackendLike) {}

  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const out = kernelFuncFor(name, this.backend)({ inputs, backend: this.backend as never, attrs });
    if (Array.isArray(out)) throw new Error(`${name}: expected one output`);
    this.temps.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** a [M, K] · b [K, N] with no transposes and no batch: the XNNPACK fully-connected path. */
  matmul(a: TensorInfo, b: TensorInfo): TensorInfo {
    const [m, k] = a.shape as [number, number];
    const n = b.shape[1] as number;
    const a3 = this.reshape(a, [1, m, k]);
    const b3 = this.reshape(b, [1, k, n]);
    const out = this.run('BatchMatMul', { a: a3, b: b3 }, { transposeA: false, transposeB: false });
    return this.reshape(out, [m, n]);
  }

  pad(x: TensorInfo, paddings: [number, number][]): TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  stridedSlice(x: TensorInfo, begin: number[], end: number[], strides: number[]): TensorInfo {
    return this.run('StridedSlice', { x }, {
      begin, end, strides, beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
    });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (size.every((s, i) => s === x.shape[i]) && begin.every((b) => b === 0)) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  /** Inserts (s-1) zeros between rows and columns of an NHWC tensor, then keeps `lenH`×`lenW` of it. */
  dilateSpatial(x: TensorInfo, sh: number, sw: number, lenH: number, lenW: number): TensorInfo {
    if (sh === 1 && sw === 1) return this.slice(x, [0, 0, 0, 0], [x.shape[0]!, lenH, lenW, x.shape[3]!]);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const x6 = this.reshape(x, [n, h, 1, w, 1, c]);
    const p = this.pad(x6, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    const d = this.reshape(p, [n, h * sh, w * sw, c]);
    return this.slice(d, [0, 0, 0, 0], [n, lenH, lenW, c]);
  }

  /** A fresh float32 output buffer, tracked like any intermediate. */
  alloc(shape: number[]): TensorInfo {
    const t = this.backend.makeOutput(shape, 'float32');
    this.temps.push(t);
    return t;
  }

  /** Stops tracking `t` so that it survives `dispose()`; returns it. */
  keep(t: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    else this.backend.incRef(t.dataId); // an input passed straight through
    return t;
  }

  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `f` with a fresh composer; whatever `f` returns is kept, the rest freed. */
export function compose(backend: WasmBackendLike, f: (c: Composer) => TensorInfo): TensorInfo {
  const c = new Composer(backend);
  try {
    return c.keep(f(c));
  } finally {
    c.dispose();
  }
}

export function pair(v: number | [number, number] | number[] | undefined, fallback = 1): [number, number] {
  if (v == null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0] ?? fallback, v[1] ?? v[0] ?? fallback];
}

/** Heap offset of a tensor's data. */
export function offsetOf(backend: WasmBackendLike, t: { dataId: object }): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** A Float32Array view of a tensor's data on the wasm heap (take it after the last allocation). */
export function heapF32(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer, offsetOf(backend, t), tf.util.sizeFromShape(t.shape));
}

/** Geometry of a 2-D convolution over NHWC data. */
export interface ConvGeometry {
  n: number; h: number; w: number; cin: number; oh: number; ow: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; top: number; left: number;
}

/**
 * im2col, transposed: out[(i·kw + j)·cin + c][(b·oh + y)·ow + x] = x[b, y·sh + i·dh − top, x·sw + j·dw − left, c]
 * (0 outside the input). out has kh·kw·cin rows of n·oh·ow.
 */
export function im2colT(x: Float32Array, out: Float32Array, g: ConvGeometry): void {
  const { n, h, w, cin, oh, ow, kh, kw, sh, sw, dh, dw, top, left } = g;
  const m = n * oh * ow;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        const row = ((i * kw + j) * cin + c) * m;
        let p = row;
        for (let b = 0; b < n; b++) {
          for (let y = 0; y < oh; y++) {
            const iy = y * sh + i * dh - top;
            if (iy < 0 || iy >= h) {
              out.fill(0, p, p + ow);
              p += ow;
              continue;
            }
            const base = (b * h + iy) * w;
            for (let xo = 0; xo < ow; xo++, p++) {
              const ix = xo * sw + j * dw - left;
              out[p] = ix >= 0 && ix < w ? x[(base + ix) * cin + c]! : 0;
            }
          }
        }
      }
    }
  }
}

/** col2im: dx[b, iy, ix, c] = Σ cols[(b·oh + y)·ow + x][(i·kw + j)·cin + c] over the taps that read it. */
export function col2im(cols: Float32Array, dx: Float32Array, g: ConvGeometry): void {
  const { n, h, w, cin, oh, ow, kh, kw, sh, sw, dh, dw, top, left } = g;
  const k = kh * kw * cin;
  dx.fill(0);
  let r = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++, r += k) {
        for (let i = 0; i < kh; i++) {
          const iy = y * sh + i * dh - top;
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const ix = xo * sw + j * dw - left;
            if (ix < 0 || ix >= w) continue;
            const d = ((b * h + iy) * w + ix) * cin;
            const s = r + (i * kw + j) * cin;
            for (let c = 0; c < cin; c++) dx[d + c]! += cols[s + c]!;
          }
        }
      }
    }
  }
}

/**
 * Identity that shares the input's data (as the cpu and webgl backends do) instead of
 * copying it. The engine clones every tensor it saves for the backward pass, so on wasm
 * the copying Identity doubled the memory a training step holds and cost ~6% of its time.
 * Tensors are immutable in tfjs (variables swap data ids on assign), so sharing is safe.
 */
export function sharedIdentity(args: { inputs: NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as TensorInfo;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
