/**
 * Conv2D gradients for the wasm backend, composed from its XNNPACK kernels.
 *
 * - Conv2DBackpropFilter: dW[kh,kw,ci,co] = Σ_p patch[p,(kh,kw,ci)] · dy[p,co], i.e. one
 *   matrix product of the im2col patches (a strided slice per tap; for a 1x1, stride-1
 *   conv the input itself) with dy. XNNPACK's fully-connected path needs its left operand
 *   row-major in the reduction dimension, so the narrower side is transposed.
 * - Conv2DBackpropInput: a 1x1 stride-1 conv's input gradient is dy · Wᵀ; any other is a
 *   stride-1 convolution of dy (dilated by the stride, zero-padded) with the filter
 *   rotated 180° and its channel axes swapped. The backend's own kernel for this is a
 *   scalar loop, so ours replaces it.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { Composer, compose, originalKernelFunc, pair } from './ops.ts';
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
  let patches: TensorInfo;
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && pads.top === 0 && pads.left === 0 && oh === h && ow === w) {
    patches = c.reshape(x, [m, cin]);
  } else {
    // Pad so that every tap's strided window lies inside the tensor.
    const needH = (kh - 1) * dh + (oh - 1) * sh + 1;
    const needW = (kw - 1) * dw + (ow - 1) * sw + 1;
    const xp = c.pad(x, [[0, 0], [pads.top, Math.max(0, needH - h - pads.top)], [pads.left, Math.max(0, needW - w - pads.left)], [0, 0]]);
    const taps: TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const r0 = i * dh;
        const c0 = j * dw;
        taps.push(c.stridedSlice(xp, [0, r0, c0, 0], [n, r0 + (oh - 1) * sh + 1, c0 + (ow - 1) * sw + 1, cin], [1, sh, sw, 1]));
      }
    }
    const cat = taps.length === 1 ? taps[0]! : c.run('Concat', taps as unknown as NamedTensorInfoMap, { axis: 3 });
    patches = c.reshape(cat, [m, kh * kw * cin]);
  }
  const k = kh * kw * cin;
  const dy2 = c.reshape(dy, [m, cout]);
  if (k <= cout) {
    // [k, M] · [M, cout]
    const out = c.matmul(c.transpose(patches, [1, 0]), dy2);
    return c.reshape(out, [kh, kw, cin, cout]);
  }
  // ([cout, M] · [M, k])ᵀ
  const outT = c.matmul(c.transpose(dy2, [1, 0]), patches);
  return c.reshape(c.transpose(outT, [1, 0]), [kh, kw, cin, cout]);
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

/** dx for NHWC dy [N,oh,ow,Cout], filter [kh,kw,Cin,Cout]; null when the shape needs the fallback. */
export function conv2dInputGradNHWC(
  c: Composer,
  dy: TensorInfo,
  filter: TensorInfo,
  inShape: Shape4,
  strides: [number, number],
  pads: { top: number; left: number },
): TensorInfo | null {
  const [n, h, w, cin] = inShape;
  const [, oh, ow, cout] = dy.shape as Shape4;
  const [kh, kw] = filter.shape as Shape4;
  const [sh, sw] = strides;
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && pads.top === 0 && pads.left === 0 && oh === h && ow === w) {
    const wt = c.transpose(c.reshape(filter, [cin, cout]), [1, 0]);
    const dx = c.matmul(c.reshape(dy, [n * oh * ow, cout]), wt);
    return c.reshape(dx, [n, h, w, cin]);
  }
  // Transposed convolution as a stride-1 convolution of the dilated dy.
  const lenH = (oh - 1) * sh + 1;
  const lenW = (ow - 1) * sw + 1;
  const top = kh - 1 - pads.top;
  const left = kw - 1 - pads.left;
  const bottom = h + kh - 1 - lenH - top;
  const right = w + kw - 1 - lenW - left;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
  const dyd = c.dilateSpatial(dy, sh, sw, lenH, lenW);
  const rot = c.run('Reverse', { x: filter }, { dims: [0, 1] });
  const wT = c.transpose(rot, [0, 1, 3, 2]);
  return c.run('Conv2D', { x: dyd, filter: wT }, {
    strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1],
  });
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
  const c = new Composer(backend);
  try {
    const dx = conv2dInputGradNHWC(c, toNHWC(c, dy, dataFormat), filter, nhwcIn,
      [info.strideHeight, info.strideWidth], info.padInfo);
    if (dx) return c.keep(dataFormat === 'NCHW' ? c.transpose(dx, [0, 3, 1, 2]) : dx);
  } finally {
    c.dispose();
  }
  const original = originalKernelFunc('Conv2DBackpropInput', backend);
  if (!original) throw new Error('Conv2DBackpropInput: no fallback kernel');
  return original(args as never) as TensorInfo;
}

export const conv2DBackpropFilterKernel = conv2DBackpropFilter as unknown as KernelFunc;
export const conv2DBackpropInputKernel = conv2DBackpropInput as unknown as KernelFunc;
export { pair };
