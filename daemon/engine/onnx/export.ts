/**
 * tfjs layers models → ONNX (opset 13), encoded with the protobufjs-generated ONNX schema
 * of `onnx-proto`. Covers the layer types of the registered backbones and the head:
 * Conv2D, DepthwiseConv2D, BatchNormalization (folded into the preceding convolution where
 * it is that convolution's only consumer, else a per-channel Mul + Add: inference only),
 * Activation / ReLU / LeakyReLU, ZeroPadding2D, Max/AveragePooling2D, global pooling,
 * Dense, Dropout (identity), Flatten, Reshape, Concatenate, Add/Multiply/Maximum/Average.
 *
 * Layout: tfjs is NHWC, ONNX convolutions are NCHW. Graph inputs and outputs keep the tfjs
 * layout (so the same preprocessed pixels feed both runtimes); inside, 4-D values stay
 * NCHW from the first convolution on and are transposed back only where NHWC order matters
 * (flatten, reshape, softmax over channels, the graph output).
 */
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const ONNX_OPSET = 13;
const IR_VERSION = 7;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

type Layout = 'tf' | 'nchw';

interface Value {
  name: string;
  rank: number;
  /** Only meaningful for rank 4: 'tf' is NHWC. */
  layout: Layout;
  /** Static NHWC shape (batch excluded) when known. */
  shape: (number | null)[];
}

interface LayerConfig {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, unknown][][];
}

export class UnsupportedLayerError extends Error {}

/** Builds one ONNX graph; several layers models can be chained into it. */
export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;

  private fresh(hint: string): string {
    return `${hint}__${this.counter++}`;
  }

  private node(opType: string, inputs: string[], hint: string, attributes: onnxProto.onnx.IAttributeProto[] = []): string {
    const out = this.fresh(hint);
    this.nodes.push({ opType, input: inputs, output: [out], name: out, attribute: attributes });
    return out;
  }

  private floatInit(hint: string, data: Float32Array, dims: number[]): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dataType: FLOAT, dims, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
    return name;
  }

  private int64Init(hint: string, values: number[]): string {
    const name = this.fresh(hint);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** A graph input in the tfjs layout; `shape` excludes the batch dimension. */
  addInput(name: string, shape: number[]): Value {
    this.inputs.push(valueInfo(name, [null, ...shape]));
    return { name, rank: shape.length + 1, layout: 'tf', shape };
  }

  /** Marks `value` as a graph output named `name`, in the tfjs layout. */
  addOutput(value: Value, name: string): void {
    const v = this.toTf(value);
    this.nodes.push({ opType: 'Identity', input: [v.name], output: [name], name });
    this.outputs.push(valueInfo(name, [null, ...v.shape]));
  }

  toNchw(v: Value): Value {
    if (v.rank !== 4 || v.layout === 'nchw') return v;
    return { ...v, name: this.node('Transpose', [v.name], 'to_nchw', [ints('perm', [0, 3, 1, 2])]), layout: 'nchw' };
  }

  toTf(v: Value): Value {
    if (v.rank !== 4 || v.layout === 'tf') return v;
    return { ...v, name: this.node('Transpose', [v.name], 'to_nhwc', [ints('perm', [0, 2, 3, 1])]), layout: 'tf' };
  }

  /** fastai's concat pooling as head.ts's concatPool: [N,H,W,C] → [N,2C], max then mean. */
  concatPool(v: Value): Value {
    const x = this.toNchw(v);
    const max = this.node('ReduceMax', [x.name], 'pool_max', [ints('axes', [2, 3]), int('keepdims', 0)]);
    const mean = this.node('ReduceMean', [x.name], 'pool_mean', [ints('axes', [2, 3]), int('keepdims', 0)]);
    const c = x.shape[2] ?? null;
    return { name: this.node('Concat', [max, mean], 'pool_concat', [int('axis', 1)]), rank: 2, layout: 'tf', shape: [c === null ? null : 2 * c] };
  }

  softmax(v: Value): Value {
    const x = this.toTf(v);
    return { ...x, name: this.node('Softmax', [x.name], 'softmax', [int('axis', -1)]) };
  }

  /** Applies the layers of `model` (a functional tfjs model with one input and one output) to `input`. */
  addLayersModel(model: tf.LayersModel, input: Value): Value {
    // The Keras-style (snake_case) serialisation: the form model.json files have.
    const json = model.toJSON(null, false) as unknown as { config: { layers: LayerConfig[]; input_layers: [string, number, number][]; output_layers: [string, number, number][] } };
    const config = json.config;
    if (config.input_layers.length !== 1 || config.output_layers.length !== 1) throw new UnsupportedLayerError('only single-input, single-output models are supported');
    const values = new Map<string, Value>();
    const key = (layer: string, node: number, tensor: number) => `${layer}\u0000${node}\u0000${tensor}`;
    const [inLayer, inNode, inTensor] = config.input_layers[0]!;
    values.set(key(inLayer, inNode, inTensor), input);
    // Consumers per value, to know when a batchnorm may be folded into the conv before it.
    const consumers = new Map<string, number>();
    for (const layer of config.layers) for (const node of layer.inbound_nodes) for (const [l, n, t] of node) consumers.set(key(l, n, t), (consumers.get(key(l, n, t)) ?? 0) + 1);
    const pendingConv = new Map<string, PendingConv>();
    for (const layer of config.layers) {
      if (layer.class_name === 'InputLayer') continue;
      const tfLayer = model.getLayer(layer.name);
      layer.inbound_nodes.forEach((node, nodeIndex) => {
        const ins = node.map(([l, n, t]) => {
          const k = key(l, n, t);
          const pending = pendingConv.get(k);
          if (pending) {
            pendingConv.delete(k);
            values.set(k, this.emitConv(pending));
          }
          const v = values.get(k);
          if (!v) throw new UnsupportedLayerError(`${layer.name}: input ${l} not computed`);
          return v;
        });
        const outKey = key(layer.name, nodeIndex, 0);
        // A BN right after a linear conv that nobody else reads: fold it into the conv's weights.
        if (layer.class_name === 'BatchNormalization' && node.length === 1) {
          const src = node[0]!;
          const pending = pendingConv.get(key(src[0], src[1], src[2]));
          if (pending && pending.activation === 'linear' && consumers.get(key(src[0], src[1], src[2])) === 1) {
            pendingConv.delete(key(src[0], src[1], src[2]));
            const { scale, shift } = bnAffine(tfLayer, layer.config);
            foldAffine(pending, scale, shift);
            pending.hint = layer.name;
            pendingConv.set(outKey, pending);
            return;
          }
        }
        if (layer.class_name === 'Conv2D' || layer.class_name === 'DepthwiseConv2D') {
          pendingConv.set(outKey, this.prepareConv(layer, tfLayer, ins[0]!));
          return;
        }
        values.set(outKey, this.convertLayer(layer, tfLayer, ins));
      });
    }
    const [outLayer, outNode, outTensor] = config.output_layers[0]!;
    const k = key(outLayer, outNode, outTensor);
    const pending = pendingConv.get(k);
    if (pending) values.set(k, this.emitConv(pending));
    const out = values.get(k);
    if (!out) throw new UnsupportedLayerError(`output ${outLayer} not computed`);
    return out;
  }

  private prepareConv(layer: LayerConfig, tfLayer: tf.layers.Layer, input: Value): PendingConv {
    const c = layer.config;
    if (c.data_format && c.data_format !== 'channels_last') throw new UnsupportedLayerError(`${layer.name}: data_format ${String(c.data_format)}`);
    // getWeights hands out the variables themselves: read them, never dispose them.
    const weights = tfLayer.getWeights();
    const kernel = weights[0]!;
    const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
    const k = kernel.dataSync() as Float32Array;
    const depthwise = layer.class_name === 'DepthwiseConv2D';
    const outChannels = depthwise ? cin * cout : cout;
    // ONNX weight [out, in/group, kh, kw].
    const w = new Float32Array(outChannels * (depthwise ? 1 : cin) * kh * kw);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < cin; i++)
          for (let o = 0; o < cout; o++) {
            const src = ((y * kw + x) * cin + i) * cout + o;
            const dst = depthwise ? ((i * cout + o) * kh + y) * kw + x : ((o * cin + i) * kh + y) * kw + x;
            w[dst] = k[src] as number;
          }
    const useBias = c.use_bias !== false && weights.length > 1;
    const bias = useBias ? Float32Array.from(weights[1]!.dataSync() as Float32Array) : new Float32Array(outChannels);
    const strides = pair(c.strides, 1);
    const dilations = pair(c.dilation_rate, 1);
    const [h, wd] = [input.shape[0] ?? null, input.shape[1] ?? null];
    let pads = [0, 0, 0, 0];
    if (c.padding === 'same') {
      if (h === null || wd === null) throw new UnsupportedLayerError(`${layer.name}: 'same' padding needs a static input size`);
      const [pt, pb] = samePads(h, kh, strides[0], dilations[0]);
      const [pl, pr] = samePads(wd, kw, strides[1], dilations[1]);
      pads = [pt, pl, pb, pr];
    } else if (c.padding !== 'valid') throw new UnsupportedLayerError(`${layer.name}: padding ${String(c.padding)}`);
    const outH = h === null ? null : Math.floor((h + pads[0]! + pads[2]! - dilations[0] * (kh - 1) - 1) / strides[0]) + 1;
    const outW = wd === null ? null : Math.floor((wd + pads[1]! + pads[3]! - dilations[1] * (kw - 1) - 1) / strides[1]) + 1;
    return {
      input,
      weight: w,
      weightDims: [outChannels, depthwise ? 1 : cin, kh, kw],
      bias,
      group: depthwise ? cin : 1,
      strides,
      dilations,
      pads,
      activation: String(c.activation ?? 'linear'),
      hint: layer.name,
      outShape: [outH, outW, outChannels],
    };
  }

  private emitConv(p: PendingConv): Value {
    const x = this.toNchw(p.input);
    const w = this.floatInit(`${p.hint}_W`, p.weight, p.weightDims);
    const b = this.floatInit(`${p.hint}_B`, p.bias, [p.bias.length]);
    const out = this.node('Conv', [x.name, w, b], p.hint, [
      ints('kernel_shape', p.weightDims.slice(2)),
      ints('strides', p.strides),
      ints('dilations', p.dilations),
      ints('pads', p.pads),
      int('group', p.group),
    ]);
    return this.activation({ name: out, rank: 4, layout: 'nchw', shape: p.outShape }, p.activation, p.hint);
  }

  private activation(v: Value, activation: string, hint: string): Value {
    switch (activation) {
      case 'linear':
        return v;
      case 'relu':
        return { ...v, name: this.node('Relu', [v.name], `${hint}_relu`) };
      case 'relu6':
        return this.clip(v, 0, 6, hint);
      case 'sigmoid':
        return { ...v, name: this.node('Sigmoid', [v.name], `${hint}_sigmoid`) };
      case 'tanh':
        return { ...v, name: this.node('Tanh', [v.name], `${hint}_tanh`) };
      case 'elu':
        return { ...v, name: this.node('Elu', [v.name], `${hint}_elu`, [float('alpha', 1)]) };
      case 'selu':
        return { ...v, name: this.node('Selu', [v.name], `${hint}_selu`) };
      case 'softplus':
        return { ...v, name: this.node('Softplus', [v.name], `${hint}_softplus`) };
      case 'swish': {
        const s = this.node('Sigmoid', [v.name], `${hint}_swish_sig`);
        return { ...v, name: this.node('Mul', [v.name, s], `${hint}_swish`) };
      }
      case 'softmax':
        return this.softmax(v);
      default:
        throw new UnsupportedLayerError(`${hint}: activation ${activation}`);
    }
  }

  private clip(v: Value, min: number, max: number, hint: string): Value {
    const lo = this.floatInit(`${hint}_min`, Float32Array.of(min), []);
    const hi = this.floatInit(`${hint}_max`, Float32Array.of(max), []);
    return { ...v, name: this.node('Clip', [v.name, lo, hi], `${hint}_clip`) };
  }

  /** Per-channel y = x * scale + shift on the channel axis of either layout. */
  private affine(v: Value, scale: Float32Array, shift: Float32Array, hint: string): Value {
    const x = v.rank === 4 ? this.toNchw(v) : v;
    const dims = x.rank === 4 ? [scale.length, 1, 1] : [scale.length];
    if (x.rank !== 4 && x.rank !== 2) throw new UnsupportedLayerError(`${hint}: batchnorm on rank ${x.rank}`);
    const s = this.floatInit(`${hint}_scale`, scale, dims);
    const t = this.floatInit(`${hint}_shift`, shift, dims);
    const mul = this.node('Mul', [x.name, s], `${hint}_mul`);
    return { ...x, name: this.node('Add', [mul, t], hint) };
  }

  private convertLayer(layer: LayerConfig, tfLayer: tf.layers.Layer, ins: Value[]): Value {
    const c = layer.config;
    const x = ins[0]!;
    const name = layer.name;
    switch (layer.class_name) {
      case 'Dropout':
      case 'SpatialDropout2D':
      case 'GaussianNoise':
      case 'GaussianDropout':
      case 'AlphaDropout':
        return x;
      case 'Activation':
        return this.activation(x, String(c.activation), name);
      case 'ReLU': {
        const maxValue = c.max_value ?? c.maxValue;
        return typeof maxValue === 'number' ? this.clip(x, 0, maxValue, name) : this.activation(x, 'relu', name);
      }
      case 'LeakyReLU':
        return { ...x, name: this.node('LeakyRelu', [x.name], name, [float('alpha', typeof c.alpha === 'number' ? c.alpha : 0.3)]) };
      case 'Softmax':
        return this.softmax(x);
      case 'BatchNormalization': {
        const axis = c.axis as number | number[] | undefined;
        const ax = Array.isArray(axis) ? axis[0] : axis;
        if (ax !== undefined && ax !== -1 && ax !== x.rank - 1) throw new UnsupportedLayerError(`${name}: batchnorm axis ${String(ax)}`);
        const { scale, shift } = bnAffine(tfLayer, c);
        return this.affine(x, scale, shift, name);
      }
      case 'Dense': {
        // getWeights hands out the variables themselves: read them, never dispose them.
    const weights = tfLayer.getWeights();
        const kernel = weights[0]!;
        const [, units] = kernel.shape as [number, number];
        const w = this.floatInit(`${name}_W`, Float32Array.from(kernel.dataSync() as Float32Array), kernel.shape);
        const useBias = c.use_bias !== false && weights.length > 1;
        const b = this.floatInit(`${name}_B`, useBias ? Float32Array.from(weights[1]!.dataSync() as Float32Array) : new Float32Array(units), [units]);
        const v = this.toTf(x);
        let out: string;
        if (v.rank === 2) out = this.node('Gemm', [v.name, w, b], name);
        else out = this.node('Add', [this.node('MatMul', [v.name, w], `${name}_matmul`), b], name);
        return this.activation({ name: out, rank: v.rank, layout: 'tf', shape: [...v.shape.slice(0, -1), units] }, String(c.activation ?? 'linear'), name);
      }
      case 'ZeroPadding2D': {
        const [[t, b], [l, r]] = padding2d(c.padding);
        const v = this.toNchw(x);
        const pads = this.int64Init(`${name}_pads`, [0, 0, t, l, 0, 0, b, r]);
        const shape = [add(v.shape[0], t + b), add(v.shape[1], l + r), v.shape[2] ?? null];
        return { name: this.node('Pad', [v.name, pads], name), rank: 4, layout: 'nchw', shape };
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const v = this.toNchw(x);
        const pool = pair(c.pool_size, 2);
        const strides = c.strides == null ? pool : pair(c.strides, 1);
        const [h, w] = [v.shape[0] ?? null, v.shape[1] ?? null];
        let pads = [0, 0, 0, 0];
        if (c.padding === 'same') {
          if (h === null || w === null) throw new UnsupportedLayerError(`${name}: 'same' padding needs a static input size`);
          const [pt, pb] = samePads(h, pool[0], strides[0], 1);
          const [pl, pr] = samePads(w, pool[1], strides[1], 1);
          pads = [pt, pl, pb, pr];
        }
        const outH = h === null ? null : Math.floor((h + pads[0]! + pads[2]! - pool[0]) / strides[0]) + 1;
        const outW = w === null ? null : Math.floor((w + pads[1]! + pads[3]! - pool[1]) / strides[1]) + 1;
        const op = layer.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
        // count_include_pad 0 (the default) is TF's 'same' average: padding is not counted.
        const out = this.node(op, [v.name], name, [ints('kernel_shape', pool), ints('strides', strides), ints('pads', pads)]);
        return { name: out, rank: 4, layout: 'nchw', shape: [outH, outW, v.shape[2] ?? null] };
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const v = this.toNchw(x);
        const op = layer.class_name === 'GlobalMaxPooling2D' ? 'ReduceMax' : 'ReduceMean';
        const keep = c.keepdims === true;
        const out = this.node(op, [v.name], name, [ints('axes', [2, 3]), int('keepdims', keep ? 1 : 0)]);
        if (keep) return { name: out, rank: 4, layout: 'nchw', shape: [1, 1, v.shape[2] ?? null] };
        return { name: out, rank: 2, layout: 'tf', shape: [v.shape[2] ?? null] };
      }
      case 'Flatten': {
        const v = this.toTf(x);
        const size = v.shape.every((d) => d !== null) ? tf.util.sizeFromShape(v.shape as number[]) : null;
        return { name: this.node('Flatten', [v.name], name, [int('axis', 1)]), rank: 2, layout: 'tf', shape: [size] };
      }
      case 'Reshape': {
        const target = (c.target_shape ?? c.targetShape) as number[];
        const v = this.toTf(x);
        const shape = this.int64Init(`${name}_shape`, [0, ...target]);
        return { name: this.node('Reshape', [v.name, shape], name), rank: target.length + 1, layout: 'tf', shape: target.map((d) => (d < 0 ? null : d)) };
      }
      case 'Concatenate': {
        const axis = typeof c.axis === 'number' ? c.axis : -1;
        const rank = x.rank;
        const positive = axis < 0 ? rank + axis : axis;
        const channelsLast4d = rank === 4 && positive === 3;
        const vs = ins.map((v) => (channelsLast4d ? this.toNchw(v) : this.toTf(v)));
        const onnxAxis = channelsLast4d ? 1 : positive;
        const shape = x.shape.slice();
        const dim = positive - 1;
        shape[dim] = vs.every((v) => v.shape[dim] != null) ? vs.reduce((s, v) => s + (v.shape[dim] as number), 0) : null;
        return { name: this.node('Concat', vs.map((v) => v.name), name, [int('axis', onnxAxis)]), rank, layout: channelsLast4d ? 'nchw' : 'tf', shape };
      }
      case 'Add':
      case 'Multiply':
      case 'Maximum':
      case 'Minimum':
      case 'Average': {
        const layout: Layout = ins.some((v) => v.rank === 4 && v.layout === 'nchw') ? 'nchw' : 'tf';
        const vs = ins.map((v) => (layout === 'nchw' ? this.toNchw(v) : this.toTf(v)));
        const op = { Add: 'Sum', Multiply: 'Mul', Maximum: 'Max', Minimum: 'Min', Average: 'Mean' }[layer.class_name]!;
        if (op === 'Mul' && vs.length > 2) {
          let acc = vs[0]!.name;
          for (const v of vs.slice(1)) acc = this.node('Mul', [acc, v.name], name);
          return { ...vs[0]!, name: acc };
        }
        return { ...vs[0]!, name: this.node(op, vs.map((v) => v.name), name) };
      }
      default:
        throw new UnsupportedLayerError(`${name}: layer type ${layer.class_name} has no ONNX conversion`);
    }
  }

  /** The encoded model. */
  encode(graphName: string, docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'teddy',
      producerVersion: '1',
      docString,
      graph: { name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

interface PendingConv {
  input: Value;
  weight: Float32Array;
  weightDims: number[];
  bias: Float32Array;
  group: number;
  strides: number[];
  dilations: number[];
  pads: number[];
  activation: string;
  hint: string;
  outShape: (number | null)[];
}

function foldAffine(p: PendingConv, scale: Float32Array, shift: Float32Array): void {
  const per = p.weight.length / p.bias.length;
  for (let o = 0; o < p.bias.length; o++) {
    const s = scale[o] as number;
    for (let j = 0; j < per; j++) p.weight[o * per + j] = (p.weight[o * per + j] as number) * s;
    p.bias[o] = (p.bias[o] as number) * s + (shift[o] as number);
  }
}

/** Inference-mode batchnorm as y = x * scale + shift. */
function bnAffine(tfLayer: tf.layers.Layer, c: Record<string, unknown>): { scale: Float32Array; shift: Float32Array } {
  const weights = tfLayer.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
  const hasScale = c.scale !== false;
  const hasCenter = c.center !== false;
  let i = 0;
  const gamma = hasScale ? weights[i++]! : undefined;
  const beta = hasCenter ? weights[i++]! : undefined;
  const mean = weights[i++]!;
  const variance = weights[i++]!;
  const eps = typeof c.epsilon === 'number' ? c.epsilon : 1e-3;
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let k = 0; k < mean.length; k++) {
    // In float64, like the arithmetic tfjs does per element, then rounded once.
    const s = (gamma ? (gamma[k] as number) : 1) / Math.sqrt((variance[k] as number) + eps);
    scale[k] = s;
    shift[k] = (beta ? (beta[k] as number) : 0) - (mean[k] as number) * s;
  }
  return { scale, shift };
}

function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  // TF puts the odd pixel at the end.
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0] ?? fallback), Number(v[1] ?? v[0] ?? fallback)];
  if (typeof v === 'number') return [v, v];
  return [fallback, fallback];
}

function padding2d(v: unknown): [[number, number], [number, number]] {
  if (typeof v === 'number') return [[v, v], [v, v]];
  if (Array.isArray(v) && v.length === 2) {
    const [a, b] = v as unknown[];
    const p = (x: unknown): [number, number] => (Array.isArray(x) ? [Number(x[0]), Number(x[1])] : [Number(x), Number(x)]);
    return [p(a), p(b)];
  }
  throw new UnsupportedLayerError(`zero padding ${JSON.stringify(v)}`);
}

function add(d: number | null | undefined, n: number): number | null {
  return d == null ? null : d + n;
}

function valueInfo(name: string, shape: (number | null)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: shape.map((d, i) => (d === null ? { dimParam: i === 0 ? 'N' : `d${i}` } : { dimValue: d })) } } },
  };
}

function ints(name: string, values: number[]): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}

function int(name: string, value: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function float(name: string, value: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}

function staticShape(model: tf.LayersModel): number[] {
  const shape = model.inputs[0]!.shape.slice(1);
  if (shape.some((d) => d === null)) throw new UnsupportedLayerError(`input shape ${JSON.stringify(model.inputs[0]!.shape)} is not static`);
  return shape as number[];
}

export const ONNX_INPUT = 'input';

/** Any supported layers model as it is: input `input`, output `output`, both in the tfjs layout. */
export function layersModelToOnnx(model: tf.LayersModel): Uint8Array {
  const g = new OnnxGraphBuilder();
  const out = g.addLayersModel(model, g.addInput(ONNX_INPUT, staticShape(model)));
  g.addOutput(out, 'output');
  return g.encode(model.name);
}

/** The frozen body with concat pooling: NHWC pixels → `features` [N, 2C], max then mean. */
export function bodyFeaturesToOnnx(body: tf.LayersModel): Uint8Array {
  const g = new OnnxGraphBuilder();
  const out = g.addLayersModel(body, g.addInput(ONNX_INPUT, staticShape(body)));
  g.addOutput(g.concatPool(out), 'features');
  return g.encode('teddy_body_features', 'frozen body + concat(max, mean) pooling');
}

/** The whole classifier: NHWC pixels → body → concat pooling → head → softmax → `probabilities`. */
export function classifierToOnnx(body: tf.LayersModel, head: tf.LayersModel, docString = ''): Uint8Array {
  const g = new OnnxGraphBuilder();
  const features = g.concatPool(g.addLayersModel(body, g.addInput(ONNX_INPUT, staticShape(body))));
  g.addOutput(g.softmax(g.addLayersModel(head, features)), 'probabilities');
  return g.encode('teddy_classifier', docString);
}
