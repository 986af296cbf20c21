import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mulberry32 } from '../rng.ts';
import { registerWasmTrainingKernels } from './index.ts';

type Shape4 = [number, number, number, number];
type Attrs = Record<string, unknown>;

// Seeded, so the random shapes and values are the same on every run.
const rand = mulberry32(20240607);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
function values(shape: number[]): Float32Array {
  const n = tf.util.sizeFromShape(shape);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rand() * 2 - 1;
  return v;
}

/** Runs one kernel on a backend with the same input values. */
async function runOn(backend: string, kernel: string, inputs: Record<string, [Float32Array, number[]]>, attrs: Attrs) {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const ts: Record<string, tf.Tensor> = {};
    for (const [k, [v, s]] of Object.entries(inputs)) ts[k] = tf.tensor(v, s);
    const out = tf.engine().runKernel(kernel, ts, attrs as never) as tf.Tensor;
    return { shape: out.shape, data: out.dataSync() as Float32Array };
  });
}

/** max |a-b| relative to max |b| (the reference): element-wise relative error is meaningless near 0. */
function relErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

async function compare(kernel: string, inputs: Record<string, [Float32Array, number[]]>, attrs: Attrs) {
  const ref = await reference(kernel, inputs, attrs);
  const got = await runOn('wasm', kernel, inputs, attrs);
  expect(got.shape).toEqual(ref.shape);
  const err = relErr(got.data, ref.data);
  expect(err, `${kernel} ${JSON.stringify(attrs)} shapes ${JSON.stringify(Object.values(inputs).map((i) => i[1]))}`).toBeLessThan(1e-4);
}

/**
 * The cpu backend's result. Its DepthwiseConv2dNativeBackpropFilter ignores `dilations`, so
 * dilated depthwise cases are checked through the identity "a dilated filter is an
 * undilated one with zeros between its taps": run the cpu kernel on the zero-stuffed
 * filter and keep the taps that exist.
 */
async function reference(kernel: string, inputs: Record<string, [Float32Array, number[]]>, attrs: Attrs) {
  const dil = attrs.dilations as [number, number] | number | undefined;
  const [dh, dw] = dil == null ? [1, 1] : typeof dil === 'number' ? [dil, dil] : dil;
  if (!kernel.startsWith('Depthwise') || (dh === 1 && dw === 1)) return runOn('cpu', kernel, inputs, attrs);
  const stuffed = (s: number[]): Shape4 => [(s[0]! - 1) * dh + 1, (s[1]! - 1) * dw + 1, s[2]!, s[3]!];
  if (kernel === 'DepthwiseConv2dNativeBackpropFilter') {
    const f = attrs.filterShape as Shape4;
    const big = stuffed(f);
    const r = await runOn('cpu', kernel, inputs, { ...attrs, dilations: [1, 1], filterShape: big });
    const out = new Float32Array(f[0] * f[1] * f[2] * f[3]);
    const inner = f[2] * f[3];
    for (let i = 0; i < f[0]; i++) for (let j = 0; j < f[1]; j++) {
      out.set(r.data.subarray(((i * dh) * big[1] + j * dw) * inner, ((i * dh) * big[1] + j * dw + 1) * inner), (i * f[1] + j) * inner);
    }
    return { shape: f as number[], data: out };
  }
  const [fv, f] = inputs.filter!;
  const big = stuffed(f);
  const inner = f[2]! * f[3]!;
  const fb = new Float32Array(big[0] * big[1] * inner);
  for (let i = 0; i < f[0]!; i++) for (let j = 0; j < f[1]!; j++) {
    fb.set(fv.subarray((i * f[1]! + j) * inner, (i * f[1]! + j + 1) * inner), ((i * dh) * big[1] + j * dw) * inner);
  }
  return runOn('cpu', kernel, { ...inputs, filter: [fb, big] }, { ...attrs, dilations: [1, 1] });
}

interface Case {
  x: Shape4; filter: Shape4; strides: [number, number]; dilations: [number, number];
  pad: 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
}

function outShape(c: Case, depthwise: boolean): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations, c.pad, undefined, depthwise);
  return info.outShape as Shape4;
}

function randomCase(depthwise: boolean, stride: number, dilation: number, pad: Case['pad']): Case {
  const n = int(1, 2);
  const k = [int(1, 3), int(1, 3)] as const;
  const ekh = (k[0] - 1) * dilation + 1;
  const ekw = (k[1] - 1) * dilation + 1;
  const h = int(ekh, 9);
  const w = int(ekw, 9);
  const cin = int(1, 6);
  const last = depthwise ? int(1, 3) : int(1, 7);
  return { x: [n, h, w, cin], filter: [k[0], k[1], cin, last], strides: [stride, stride], dilations: [dilation, dilation], pad };
}

const pads = ['same', 'valid'] as const;
const configs: Array<{ stride: number; dilation: number; pad: Case['pad'] }> = [];
for (const pad of pads) for (const stride of [1, 2]) configs.push({ stride, dilation: 1, pad });
for (const pad of pads) configs.push({ stride: 1, dilation: 2, pad });

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerWasmTrainingKernels();
});

describe('registerWasmTrainingKernels', () => {
  it('registers the missing gradient kernels, idempotently', () => {
    const names = registerWasmTrainingKernels();
    expect(names).toEqual(expect.arrayContaining([
      'Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput',
    ]));
    expect(registerWasmTrainingKernels()).toEqual(names);
    const wasm = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    for (const n of names) expect(wasm.has(n)).toBe(true);
  });
});

describe('Conv2D gradients match the cpu backend', () => {
  const convConfigs = configs.filter((c) => c.dilation === 1); // conv2d gradients have no dilation
  for (const { stride, pad } of convConfigs) {
    for (let rep = 0; rep < 3; rep++) {
      const c = randomCase(false, stride, 1, pad);
      const dy = outShape(c, false);
      it(`filter+input grad stride ${stride} ${pad} x=${c.x} f=${c.filter}`, async () => {
        const xv = values(c.x);
        const fv = values(c.filter);
        const dyv = values(dy);
        await compare('Conv2DBackpropFilter', { x: [xv, c.x], dy: [dyv, dy] },
          { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter });
        await compare('Conv2DBackpropInput', { dy: [dyv, dy], filter: [fv, c.filter] },
          { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x });
      });
    }
  }

  it('1x1 stride 1 (pointwise, the MobileNet case) at a wider shape', async () => {
    const x: Shape4 = [2, 7, 5, 24];
    const dy: Shape4 = [2, 7, 5, 40];
    await compare('Conv2DBackpropFilter', { x: [values(x), x], dy: [values(dy), dy] },
      { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [1, 1, 24, 40] });
    await compare('Conv2DBackpropInput', { dy: [values(dy), dy], filter: [values([1, 1, 24, 40]), [1, 1, 24, 40]] },
      { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: x });
  });

  it('3x3 stride 2 from 3 channels (the MobileNet stem)', async () => {
    const x: Shape4 = [2, 16, 16, 3];
    const dy: Shape4 = [2, 8, 8, 8];
    await compare('Conv2DBackpropFilter', { x: [values(x), x], dy: [values(dy), dy] },
      { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 8] });
  });

  it('explicit and numeric padding, NCHW', async () => {
    const x: Shape4 = [1, 6, 7, 3];
    const f: Shape4 = [3, 2, 3, 4];
    const explicit: Case['pad'] = [[0, 0], [2, 1], [0, 1], [0, 0]];
    for (const pad of [explicit, 1] as const) {
      const dy = outShape({ x, filter: f, strides: [2, 1], dilations: [1, 1], pad }, false);
      await compare('Conv2DBackpropFilter', { x: [values(x), x], dy: [values(dy), dy] },
        { strides: [2, 1], pad, dataFormat: 'NHWC', filterShape: f });
      await compare('Conv2DBackpropInput', { dy: [values(dy), dy], filter: [values(f), f] },
        { strides: [2, 1], pad, dataFormat: 'NHWC', inputShape: x });
    }
    const xc: Shape4 = [2, 3, 6, 5];
    const dyc: Shape4 = [2, 4, 3, 3];
    await compare('Conv2DBackpropFilter', { x: [values(xc), xc], dy: [values(dyc), dyc] },
      { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] });
  });
});

describe('Depthwise gradients match the cpu backend', () => {
  for (const { stride, dilation, pad } of configs) {
    for (let rep = 0; rep < 3; rep++) {
      const c = randomCase(true, stride, dilation, pad);
      const dy = outShape(c, true);
      it(`filter+input grad stride ${stride} dilation ${dilation} ${pad} x=${c.x} f=${c.filter}`, async () => {
        const xv = values(c.x);
        const fv = values(c.filter);
        const dyv = values(dy);
        await compare('DepthwiseConv2dNativeBackpropFilter', { x: [xv, c.x], dy: [dyv, dy] },
          { strides: c.strides, dilations: c.dilations, pad: c.pad, filterShape: c.filter });
        await compare('DepthwiseConv2dNativeBackpropInput', { dy: [dyv, dy], filter: [fv, c.filter] },
          { strides: c.strides, dilations: c.dilations, pad: c.pad, inputShape: c.x });
      });
    }
  }

  it('channel multiplier > 1 with stride 2 and the MobileNet 3x3 same case', async () => {
    for (const [x, f, s] of [
      [[2, 9, 8, 5], [3, 3, 5, 3], 2],
      [[2, 14, 14, 24], [3, 3, 24, 1], 1],
      [[2, 14, 14, 24], [3, 3, 24, 1], 2],
    ] as Array<[Shape4, Shape4, number]>) {
      const dy = outShape({ x, filter: f, strides: [s, s], dilations: [1, 1], pad: 'same' }, true);
      await compare('DepthwiseConv2dNativeBackpropFilter', { x: [values(x), x], dy: [values(dy), dy] },
        { strides: s, dilations: 1, pad: 'same', filterShape: f });
      await compare('DepthwiseConv2dNativeBackpropInput', { dy: [values(dy), dy], filter: [values(f), f] },
        { strides: s, dilations: 1, pad: 'same', inputShape: x });
    }
  });
});

describe('depthwise SIMD paths (multiplier 1, channels in fours) with dilation and odd padding', () => {
  for (const [pad, s, d] of [['same', 1, 2], ['valid', 1, 2], ['valid', 2, 1], [[[0, 0], [1, 0], [2, 1], [0, 0]], 2, 1]] as const) {
    it(`pad ${JSON.stringify(pad)} stride ${s} dilation ${d}`, async () => {
      const x: Shape4 = [2, 9, 10, 8];
      const f: Shape4 = [3, 3, 8, 1];
      const p = pad as Case['pad'];
      const dy = outShape({ x, filter: f, strides: [s, s], dilations: [d, d], pad: p }, true);
      await compare('DepthwiseConv2dNativeBackpropFilter', { x: [values(x), x], dy: [values(dy), dy] },
        { strides: s, dilations: d, pad: p, filterShape: f });
      await compare('DepthwiseConv2dNativeBackpropInput', { dy: [values(dy), dy], filter: [values(f), f] },
        { strides: s, dilations: d, pad: p, inputShape: x });
    });
  }
});

describe('end to end: gradients of a small conv net on wasm equal those on cpu', () => {
  // pwOut % 4 === 0 takes the SIMD batch-norm path, otherwise the JS one; the ReLU6 is
  // tf.relu6 (its own kernel), or minimum(6, relu(x)) / minimum(relu(x), 6) as tfjs-layers
  // writes it, whose Relu and Minimum gradients are replaced on wasm.
  const variants = [
    { pwOut: 8, relu6: 'layers', stats: 'batch' },
    { pwOut: 6, relu6: 'flipped', stats: 'batch' },
    { pwOut: 12, relu6: 'kernel', stats: 'frozen' },
  ] as const;
  for (const { pwOut, relu6, stats } of variants) {
    it(`stem, depthwise, pointwise(${pwOut}), ${stats} batch norm, ${relu6} relu6, pooling, dense`, async () => {
      const shapes: Record<string, number[]> = {
        stem: [3, 3, 3, 4], dw: [3, 3, 4, 1], pw: [1, 1, 4, pwOut], gamma: [pwOut], beta: [pwOut], dense: [pwOut, 3],
      };
      const init = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, values(s)]));
      const xv = values([2, 12, 12, 3]);
      const mv = values([pwOut]);
      const vv = values([pwOut]).map((v) => v + 1.5);
      const act = (h: tf.Tensor) => relu6 === 'kernel' ? tf.relu6(h)
        : relu6 === 'layers' ? tf.minimum(6, tf.relu(h)) : tf.minimum(tf.relu(h), 6);
      const gradsOn = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const x = tf.tensor4d(xv, [2, 12, 12, 3]);
          const vars = Object.keys(shapes).map((k) => tf.tensor(init[k]!, shapes[k]!));
          const y = tf.tensor2d([[1, 0, 0], [0, 0, 1]]);
          const f = (stem: tf.Tensor, dw: tf.Tensor, pw: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, dense: tf.Tensor) => {
            let h = act(tf.conv2d(x, stem as tf.Tensor4D, 2, 'same').mul(3));
            h = act(tf.depthwiseConv2d(h as tf.Tensor4D, dw as tf.Tensor4D, 2, 'same').mul(3));
            h = tf.conv2d(h as tf.Tensor4D, pw as tf.Tensor4D, 1, 'same');
            const m = stats === 'batch' ? tf.moments(h, [0, 1, 2]) : { mean: tf.tensor1d(mv), variance: tf.tensor1d(vv) };
            h = act(tf.batchNorm4d(h as tf.Tensor4D, m.mean as tf.Tensor1D, m.variance as tf.Tensor1D, beta as tf.Tensor1D, gamma as tf.Tensor1D, 1e-3));
            const logits = tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, dense as tf.Tensor2D);
            return tf.losses.softmaxCrossEntropy(y, logits);
          };
          const g = tf.grads(f as never)(vars);
          return g.map((t) => t.dataSync() as Float32Array);
        });
      };
      const ref = await gradsOn('cpu');
      const got = await gradsOn('wasm');
      expect(got.length).toBe(6);
      for (let i = 0; i < ref.length; i++) expect(relErr(got[i]!, ref[i]!), `grad ${Object.keys(shapes)[i]}`).toBeLessThan(1e-4);
    });
  }
});

describe('shared Identity', () => {
  it('clones share data but keep their values when a variable is reassigned or disposed', async () => {
    await tf.setBackend('wasm');
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const c = v.clone();
    v.assign(tf.tensor1d([4, 5, 6]));
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3]);
    const c2 = tf.clone(c);
    c.dispose();
    expect(Array.from(c2.dataSync())).toEqual([1, 2, 3]);
    v.dispose();
    c2.dispose();
  });
});

describe('Minimum with a scalar side', () => {
  it('matches the cpu backend, NaN and broadcast rank included', async () => {
    const v = values([3, 7, 5]);
    v[4] = NaN;
    v[5] = 6;
    for (const [aShape, bShape, av, bv] of [
      [[], [3, 7, 5], new Float32Array([0.25]), v],
      [[3, 7, 5], [1], v, new Float32Array([-0.5])],
      [[1, 1, 1, 1], [3, 7, 5], new Float32Array([0.1]), v],
    ] as Array<[number[], number[], Float32Array, Float32Array]>) {
      const ref = await runOn('cpu', 'Minimum', { a: [av, aShape], b: [bv, bShape] }, {});
      const got = await runOn('wasm', 'Minimum', { a: [av, aShape], b: [bv, bShape] }, {});
      expect(got.shape).toEqual(ref.shape);
      expect(Array.from(got.data)).toEqual(Array.from(ref.data));
    }
  });
});

describe('masked gradient kernel', () => {
  it('relu mask over a length that is not a multiple of 4', async () => {
    await tf.setBackend('wasm');
    const v = values([1, 3, 5, 7]);
    const dy = values([1, 3, 5, 7]);
    const g = tf.tidy(() => {
      const x = tf.tensor4d(v, [1, 3, 5, 7]);
      return tf.grad((t: tf.Tensor) => tf.relu(t).mul(tf.tensor4d(dy, [1, 3, 5, 7])).sum())(x).dataSync() as Float32Array;
    });
    for (let i = 0; i < v.length; i++) expect(g[i]! === (v[i]! > 0 ? dy[i]! : 0)).toBe(true);
  });
});
