/**
 * Conv2D gradients for the wasm backend, composed from its XNNPACK kernels.
 *
 * - Conv2DBackpropFilter: dW[kh,kw,ci,co] = Σ_p patch[p,(kh,kw,ci)] · dy[p,co], one matrix
 *   product (XNNPACK's fully-connected path, which wants its left operand with the
 *   reduction dimension innermost). For a 1x1 stride-1 conv the patches are the input
 *   itself and the narrower side is transposed; otherwise the patches are written
 *   already transposed by a JS im2col (the backend's strided slices are ~100 ns/element).
 * - Conv2DBackpropInput: cols = dy · Wᵀ (one matrix product); for a 1x1 stride-1 conv that
 *   is dx, otherwise a JS col2im scatters cols into dx. The backend's own kernel for this
 *   is a scalar loop (~10x slower on MobileNet's pointwise layers), so ours replaces it.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { Composer, col2im, compose, heapF32, im2colT, pair } from './ops.ts';
import type { WasmBackendLike } from './ops.ts';

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

function toNHWC(c: Composer, t: TensorInfo, dataFormat: string | undefined): TensorInfo {
  return dataFormat === 'NCHW' ? c.transpose(t, [0, 2, 3, 1]) : t;
}

/** dW = patchesᵀ · dy, for NHWC x [N,H,W,Cin] and dy [N,oh,ow,Cout]. */
export function conv2dFilterGradNHWC(
  c: Composer,
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: Shape4,
  strides: [number, number],
  dilations: [number, number],
  pads: { top: number; left: number },
): TensorInfo {
  const [n, h, w, cin] = x.shape as Shape4;
  const [, oh, ow, cout] = dy.shape as Shape4;
  const [kh, kw] = filterShape;
  const [sh, sw] = strides;
  const [dh, dw] = dilations;
  const m = n * oh * ow;
  const k = kh * kw * cin;
  const dy2 = c.reshape(dy, [m, cout]);
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && pads.top === 0 && pads.left === 0 && oh === h && ow === w) {
    // Pointwise: dW = xᵀ · dy; transpose whichever side is narrower.
    const x2 = c.reshape(x, [m, cin]);
    if (cin <= cout) return c.reshape(c.matmul(c.transpose(x2, [1, 0]), dy2), [1, 1, cin, cout]);
    const outT = c.matmul(c.transpose(dy2, [1, 0]), x2);
    return c.reshape(c.transpose(outT, [1, 0]), [1, 1, cin, cout]);
  }
  // General: patchesᵀ [k, M] (im2col written transposed) · dy [M, cout].
  const patchesT = c.alloc([k, m]);
  im2colT(heapF32(c.backend, x), heapF32(c.backend, patchesT), {
    n, h, w, cin, oh, ow, kh, kw, sh, sw, dh, dw, top: pads.top, left: pads.left,
  });
  return c.reshape(c.matmul(patchesT, dy2), [kh, kw, cin, cout]);
}

function conv2DBackpropFilter(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { inputs, attrs = {} } = args;
  const backend = args.backend as WasmBackendLike;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: number | [number, number]; pad: Pad; dataFormat?: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: Shape4;
  };
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false,
    dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast');
  return compose(backend, (c) =>
    conv2dFilterGradNHWC(c, toNHWC(c, x, dataFormat), toNHWC(c, dy, dataFormat), filterShape,
      [info.strideHeight, info.strideWidth], [1, 1], info.padInfo));
}

/** dx for NHWC dy [N,oh,ow,Cout] and filter [kh,kw,Cin,Cout]. */
export function conv2dInputGradNHWC(
  c: Composer,
  dy: TensorInfo,
  filter: TensorInfo,
  inShape: Shape4,
  strides: [number, number],
  pads: { top: number; left: number },
): TensorInfo {
  const [n, h, w, cin] = inShape;
  const [, oh, ow, cout] = dy.shape as Shape4;
  const [kh, kw] = filter.shape as Shape4;
  const [sh, sw] = strides;
  const m = n * oh * ow;
  const k = kh * kw * cin;
  const wt = c.transpose(c.reshape(filter, [k, cout]), [1, 0]);
  const cols = c.matmul(c.reshape(dy, [m, cout]), wt); // [M, k]
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && pads.top === 0 && pads.left === 0 && oh === h && ow === w) {
    return c.reshape(cols, [n, h, w, cin]);
  }
  const dx = c.alloc([n, h, w, cin]);
  col2im(heapF32(c.backend, cols), heapF32(c.backend, dx), {
    n, h, w, cin, oh, ow, kh, kw, sh, sw, dh: 1, dw: 1, top: pads.top, left: pads.left,
  });
  return dx;
}

function conv2DBackpropInput(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { inputs, attrs = {} } = args;
  const backend = args.backend as WasmBackendLike;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: number | [number, number]; pad: Pad; dataFormat?: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil'; inputShape: Shape4;
  };
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false,
    dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast');
  const nhwcIn: Shape4 = [info.batchSize, info.inHeight, info.inWidth, info.inChannels];
  return compose(backend, (c) => {
    const dx = conv2dInputGradNHWC(c, toNHWC(c, dy, dataFormat), filter, nhwcIn,
      [info.strideHeight, info.strideWidth], info.padInfo);
    return dataFormat === 'NCHW' ? c.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

export const conv2DBackpropFilterKernel = conv2DBackpropFilter as unknown as KernelFunc;
export const conv2DBackpropInputKernel = conv2DBackpropInput as unknown as KernelFunc;
export { pair };
