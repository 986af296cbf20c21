/**
 * Gradient kernels that the TensorFlow.js wasm backend lacks, registered at start so
 * that the whole network (not only the head) can be trained on the embedded default.
 * Returns the names of the kernels it registered.
 *
 * - Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput: composed from the
 *   backend's XNNPACK kernels (BatchMatMul, Conv2D, DepthwiseConv2dNative, ...).
 * - DepthwiseConv2dNativeBackpropFilter: a single pass over dy (see depthwise.ts).
 * - Conv2DBackpropInput: the backend has one, but it is a scalar loop that makes a
 *   MobileNet training step several times slower; ours replaces it (and falls back to it
 *   for the shapes it does not handle).
 *
 * - TeddyBatchNormGrad, TeddyMaskedGrad: one-pass gradients of batch norm and of
 *   ReLU/ReLU6, used by the FusedBatchNorm, Relu and Minimum gradients when the backend is
 *   wasm (grads.ts; on other backends those gradients are tfjs-core's own).
 *
 * - Identity: shares data instead of copying it (the engine clones every tensor it saves
 *   for backprop; copies doubled a step's memory on wasm).
 *
 * Idempotent; may be called before or after `tf.setBackend('wasm')`.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from '@tensorflow/tfjs';
import { conv2DBackpropFilterKernel, conv2DBackpropInputKernel } from './conv2d.ts';
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from './depthwise.ts';
import { gradKernels, registerFastGradients } from './grads.ts';
import { originalWasmKernels, sharedIdentity } from './ops.ts';

const ours: ReadonlyArray<[string, KernelFunc]> = [
  ['Conv2DBackpropFilter', conv2DBackpropFilterKernel],
  ['Conv2DBackpropInput', conv2DBackpropInputKernel],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilterKernel],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInputKernel],
  ...gradKernels,
  ['Identity', sharedIdentity as unknown as KernelFunc],
];

export function registerWasmTrainingKernels(): string[] {
  const names: string[] = [];
  for (const [kernelName, kernelFunc] of ours) {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing?.kernelFunc === kernelFunc) {
      names.push(kernelName);
      continue;
    }
    if (existing) {
      // Keep the backend's own kernel as a fallback, then replace it.
      if (!originalWasmKernels.has(kernelName)) originalWasmKernels.set(kernelName, existing);
      tf.unregisterKernel(kernelName, 'wasm');
    }
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    names.push(kernelName);
  }
  registerFastGradients();
  return names;
}

export const wasmTrainingKernelNames: readonly string[] = ours.map(([name]) => name);
