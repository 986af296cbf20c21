// Worker thread that runs the frozen, pretrained body on the wasm backend, so that on a
// multi-core machine several images go through the body at once (tfjs disables wasm
// multithreading under Node). Plain JavaScript: a worker cannot load TypeScript without a
// loader. Protocol: {type:'init', modelTopology, weightSpecs, weightData, cutLayer} →
// {type:'ready'}; {type:'run', id, pixels, n, size} → {type:'result', id, data} with the
// features pooled as concat(max, mean), exactly as head.ts's concatPool.
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let body = null;

parentPort.on('message', async (msg) => {
  try {
    if (msg.type === 'init') {
      await tf.setBackend('wasm');
      await tf.ready();
      const full = await tf.loadLayersModel(
        tf.io.fromMemory({ modelTopology: msg.modelTopology, weightSpecs: msg.weightSpecs, weightData: msg.weightData }),
      );
      body = tf.model({ inputs: full.inputs, outputs: full.getLayer(msg.cutLayer).output });
      parentPort.postMessage({ type: 'ready' });
    } else if (msg.type === 'run') {
      const pooled = tf.tidy(() => {
        const x = tf.tensor4d(msg.pixels, [msg.n, msg.size, msg.size, 3]);
        const f = body.predict(x);
        return tf.concat([tf.max(f, [1, 2]), tf.mean(f, [1, 2])], 1);
      });
      const data = await pooled.data();
      pooled.dispose();
      parentPort.postMessage({ type: 'result', id: msg.id, data }, [data.buffer]);
    }
  } catch (err) {
    parentPort.postMessage({ type: 'error', id: msg.id, message: err && err.stack ? err.stack : String(err) });
  }
});
