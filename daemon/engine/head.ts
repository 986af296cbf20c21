/**
 * The new head put on the cut body, like fastai's `create_head`: the concatenation of global
 * max and average pooling (done by `concatPool`, outside the layers model, because it has no
 * weights and its output is what the feature cache stores), then batchnorm, dropout, dense,
 * ReLU, batchnorm, dropout, dense. The head outputs logits; softmax is applied by the loss
 * and by prediction.
 */
import * as tf from '@tensorflow/tfjs';

export interface HeadOptions {
  inputFeatures: number;
  classCount: number;
  hidden: number;
  dropout: readonly [number, number];
  seed: number;
}

export function buildHead(options: HeadOptions): tf.LayersModel {
  const { inputFeatures, classCount, hidden, dropout, seed } = options;
  // Keras momentum 0.9 = PyTorch 0.1: with the few steps of a small dataset the moving
  // statistics must converge quickly or validation would use the initial (0, 1) ones.
  const bn = (name: string) => tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name });
  const input = tf.input({ shape: [inputFeatures], name: 'head_input' });
  let x = bn('head_bn1').apply(input) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: dropout[0], seed, name: 'head_drop1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({ units: hidden, kernelInitializer: tf.initializers.heNormal({ seed }), name: 'head_dense1' })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'head_relu' }).apply(x) as tf.SymbolicTensor;
  x = bn('head_bn2').apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: dropout[1], seed: seed + 1, name: 'head_drop2' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: classCount, kernelInitializer: tf.initializers.heNormal({ seed: seed + 2 }), name: 'head_logits' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'teddy_head' });
}

/** [N, H, W, C] → [N, 2C]: global max then global average, as fastai's AdaptiveConcatPool2d. */
export function concatPool(features: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => tf.concat([tf.max(features, [1, 2]), tf.mean(features, [1, 2])], 1) as tf.Tensor2D);
}
