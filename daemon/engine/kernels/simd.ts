/**
 * Loads Teddy's own wasm SIMD kernels (wasm/teddy_kernels.c, embedded in wasm-module.ts)
 * into the tfjs wasm backend's memory, so they read and write tensors in place.
 * Returns null where that is impossible (no SIMD, memory not reachable); callers then
 * use their JS versions. Set TEDDY_KERNELS_NO_SIMD=1 to force the JS versions.
 */
import { TEDDY_KERNELS_WASM_BASE64 } from './wasm-module.ts';
import { offsetOf, type WasmBackendLike } from './ops.ts';

export interface TeddySimd {
  masked_grad(dy: number, v: number, out: number, n: number, mode: number, t: number): void;
  bn_grad(dy: number, x: number, mean: number, k: number, dx: number, s1: number, s2: number,
    rows: number, ch: number, scratch: number, dscratch: number): void;
  dw_filter_grad(x: number, dy: number, out: number, n: number, h: number, w: number, ch: number,
    oh: number, ow: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number,
    top: number, left: number, scratch: number, dscratch: number): void;
  min_scalar(x: number, out: number, n: number, s: number): void;
  dw_input_grad(dy: number, f: number, dx: number, n: number, h: number, w: number, ch: number,
    oh: number, ow: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number,
    top: number, left: number): void;
}

interface MiniWebAssembly {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

const cache = new WeakMap<object, TeddySimd | null>();

function decode(b64: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(b64, 'base64'));
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

export function teddySimd(backend: WasmBackendLike): TeddySimd | null {
  if (process.env.TEDDY_KERNELS_NO_SIMD === '1') return null;
  const memory = backend.wasm.asm?.memory;
  if (!memory) return null;
  if (cache.has(memory)) return cache.get(memory) ?? null;
  let simd: TeddySimd | null = null;
  try {
    const WA = (globalThis as unknown as { WebAssembly: MiniWebAssembly }).WebAssembly;
    const instance = new WA.Instance(new WA.Module(decode(TEDDY_KERNELS_WASM_BASE64)), { env: { memory } });
    simd = instance.exports as unknown as TeddySimd;
  } catch {
    simd = null; // e.g. a runtime without wasm SIMD
  }
  cache.set(memory, simd);
  return simd;
}

/** Runs f with float32 scratch buffers of the given sizes on the backend's heap (freed after). */
export function withScratch<T>(backend: WasmBackendLike, sizes: number[], f: (...offsets: number[]) => T): T {
  const bufs = sizes.map((s) => backend.makeOutput([Math.max(1, s)], 'float32'));
  try {
    return f(...bufs.map((b) => offsetOf(backend, b)));
  } finally {
    for (const b of bufs) backend.disposeData(b.dataId);
  }
}
