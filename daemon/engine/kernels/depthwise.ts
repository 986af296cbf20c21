/**
 * Depthwise-conv gradients for the wasm backend.
 *
 * - Input gradient: for channel multiplier 1 and channels in fours (MobileNet), a scatter
 *   pass in our wasm SIMD module; otherwise a stride-1 depthwise convolution (the
 *   backend's XNNPACK kernel) of dy, dilated by the stride, with the filter rotated 180°,
 *   the C·M per-output-channel results summed in groups of M.
 * - Filter gradient: dW[i,j,c,m] = Σ_{n,y,x} xpad[n, y·sh + i·dh, x·sw + j·dw, c] · dy[n,y,x,c·M+m],
 *   a sum of shifted products, computed in one pass over dy by `filterGradInto`
 *   (our own wasm SIMD module when available, else a JS loop on the heap).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { compose, heapF32, offsetOf, type WasmBackendLike } from './ops.ts';
import { teddySimd, withScratch } from './simd.ts';

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

interface DepthwiseAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function depthwiseBackpropInput(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const dy = args.inputs.dy as TensorInfo;
  const filter = args.inputs.filter as TensorInfo;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = args.attrs as unknown as DepthwiseAttrs & { inputShape: Shape4 };
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const [n, h, w, ch] = inputShape;
  const [kh, kw, , mult] = filter.shape as Shape4;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, outHeight: oh, outWidth: ow } = info;
  const ekh = (kh - 1) * dh + 1;
  const ekw = (kw - 1) * dw + 1;
  const lenH = (oh - 1) * sh + 1;
  const lenW = (ow - 1) * sw + 1;
  const top = ekh - 1 - info.padInfo.top;
  const left = ekw - 1 - info.padInfo.left;
  const bottom = h + ekh - 1 - lenH - top;
  const right = w + ekw - 1 - lenW - left;
  const simd = mult === 1 && ch % 4 === 0 ? teddySimd(backend) : null;
  if (simd) {
    const dx = backend.makeOutput([n, h, w, ch], 'float32');
    simd.dw_input_grad(offsetOf(backend, dy), offsetOf(backend, filter), offsetOf(backend, dx), n, h, w, ch, oh, ow,
      kh, kw, sh, sw, dh, dw, info.padInfo.top, info.padInfo.left);
    return dx;
  }
  return compose(backend, (c) => {
    let dyd = c.dilateSpatial(dy, sh, sw, lenH, lenW);
    // Negative padding (explicit pads larger than the filter): crop instead.
    const crop = [Math.max(0, -top), Math.max(0, -left), Math.max(0, -bottom), Math.max(0, -right)] as const;
    if (crop.some((v) => v > 0)) {
      dyd = c.slice(dyd, [0, crop[0], crop[1], 0], [n, lenH - crop[0] - crop[2], lenW - crop[1] - crop[3], ch * mult]);
    }
    const rot = c.reshape(c.run('Reverse', { x: filter }, { dims: [0, 1] }), [kh, kw, ch * mult, 1]);
    const out = c.run('DepthwiseConv2dNative', { x: dyd, filter: rot }, {
      strides: [1, 1], dilations: [dh, dw],
      pad: [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]],
    });
    if (mult === 1) return out;
    return c.run('Sum', { x: c.reshape(out, [n, h, w, ch, mult]) }, { axis: [4], keepDims: false });
  });
}

export interface FilterGradGeometry {
  n: number; h: number; w: number; ch: number; mult: number;
  oh: number; ow: number; kh: number; kw: number;
  sh: number; sw: number; dh: number; dw: number; top: number; left: number;
}

/** Plain-JS filter gradient on heap views; out (kh·kw·ch·mult floats) is overwritten. */
export function filterGradJS(x: Float32Array, dy: Float32Array, out: Float32Array, g: FilterGradGeometry): void {
  const { n, h, w, ch, mult, oh, ow, kh, kw, sh, sw, dh, dw, top, left } = g;
  const cm = ch * mult;
  const acc = new Float64Array(kh * kw * cm);
  for (let b = 0; b < n; b++) {
    for (let yr = 0; yr < oh; yr++) {
      for (let yc = 0; yc < ow; yc++) {
        const dyOff = ((b * oh + yr) * ow + yc) * cm;
        for (let i = 0; i < kh; i++) {
          const xr = yr * sh + i * dh - top;
          if (xr < 0 || xr >= h) continue;
          for (let j = 0; j < kw; j++) {
            const xc = yc * sw + j * dw - left;
            if (xc < 0 || xc >= w) continue;
            const xOff = ((b * h + xr) * w + xc) * ch;
            const aOff = (i * kw + j) * cm;
            if (mult === 1) {
              for (let c = 0; c < ch; c++) acc[aOff + c]! += x[xOff + c]! * dy[dyOff + c]!;
            } else {
              for (let c = 0; c < ch; c++) {
                const xv = x[xOff + c]!;
                for (let m = 0; m < mult; m++) acc[aOff + c * mult + m]! += xv * dy[dyOff + c * mult + m]!;
              }
            }
          }
        }
      }
    }
  }
  out.set(acc);
}

export type FilterGradImpl = (
  backend: WasmBackendLike, x: TensorInfo, dy: TensorInfo, out: TensorInfo, g: FilterGradGeometry,
) => void;

export const jsFilterGradImpl: FilterGradImpl = (backend, x, dy, out, g) => {
  filterGradJS(heapF32(backend, x), heapF32(backend, dy), heapF32(backend, out), g);
};

/** Our wasm SIMD kernel for channel multiplier 1 and channels in fours; JS otherwise. */
export const simdFilterGradImpl: FilterGradImpl = (backend, x, dy, out, g) => {
  const simd = g.mult === 1 && g.ch % 4 === 0 ? teddySimd(backend) : null;
  if (!simd) return jsFilterGradImpl(backend, x, dy, out, g);
  const taps = g.kh * g.kw * g.ch;
  withScratch(backend, [taps, 2 * taps], (f32, f64) => simd.dw_filter_grad(
    offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, out), g.n, g.h, g.w, g.ch, g.oh, g.ow,
    g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.top, g.left, f32!, f64!));
};

let filterGradImpl: FilterGradImpl = simdFilterGradImpl;

/** Chooses how the depthwise filter gradient is computed (our wasm module or JS). */
export function setDepthwiseFilterGradImpl(impl: FilterGradImpl): void {
  filterGradImpl = impl;
}

function depthwiseBackpropFilter(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as TensorInfo;
  const dy = args.inputs.dy as TensorInfo;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = args.attrs as unknown as DepthwiseAttrs & { filterShape: Shape4 };
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const [n, h, w, ch] = x.shape as Shape4;
  const [kh, kw, , mult] = filterShape;
  const out = backend.makeOutput([kh, kw, ch, mult], 'float32');
  filterGradImpl(backend, x, dy, out, {
    n, h, w, ch, mult, oh: info.outHeight, ow: info.outWidth, kh, kw,
    sh: info.strideHeight, sw: info.strideWidth, dh: info.dilationHeight, dw: info.dilationWidth,
    top: info.padInfo.top, left: info.padInfo.left,
  });
  return out;
}

export const depthwiseBackpropInputKernel = depthwiseBackpropInput as unknown as KernelFunc;
export const depthwiseBackpropFilterKernel = depthwiseBackpropFilter as unknown as KernelFunc;
