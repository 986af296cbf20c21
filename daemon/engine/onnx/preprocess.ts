/**
 * Prediction's input: each picture's centre square at the model size (decodeCentre), turned
 * into normalised floats. It equals `renderTransformed(decode(file), size,
 * IDENTITY_TRANSFORM, norm)` — what training and interpretation look at — bit for bit: the
 * decoded size keeps the crop offset whole, so the identity render samples each pixel at
 * its own position, and the values go through the same lookup table. preprocess.test.ts
 * checks that equality. With onnxruntime the forward pass is fast enough that this path,
 * not the network, set the pace.
 */
import { normalisationTable, type Normalization } from '../augment.ts';
import type { ImageDecoder, DecodedPixels } from '../images.ts';
import { onWhite } from '../images.ts';

/** Writes the normalised RGB floats of decoded pixels into `out` (RGBA is flattened on white first, as decode does). */
export function normaliseSquare(src: DecodedPixels, norm: Normalization, out: Float32Array): void {
  const table = normalisationTable(norm);
  const data = src.data;
  if (src.channels === 3) {
    for (let i = 0; i < data.length; i += 3) {
      out[i] = table[data[i]!]!;
      out[i + 1] = table[256 + data[i + 1]!]!;
      out[i + 2] = table[512 + data[i + 2]!]!;
    }
    return;
  }
  for (let i = 0, o = 0; i < data.length; i += 4, o += 3) {
    const alpha = data[i + 3]!;
    if (alpha === 255) {
      out[o] = table[data[i]!]!;
      out[o + 1] = table[256 + data[i + 1]!]!;
      out[o + 2] = table[512 + data[i + 2]!]!;
    } else {
      out[o] = table[onWhite(data[i]!, alpha)]!;
      out[o + 1] = table[256 + onWhite(data[i + 1]!, alpha)]!;
      out[o + 2] = table[512 + onWhite(data[i + 2]!, alpha)]!;
    }
  }
}

/** Decodes a batch and writes each picture's normalised centre square into one NHWC float buffer, decoding in parallel. */
export async function centreCropBatch(decoder: ImageDecoder, files: readonly (string | Buffer)[], size: number, norm: Normalization): Promise<Float32Array> {
  const per = size * size * 3;
  const pixels = new Float32Array(files.length * per);
  // Each picture is normalised as soon as it is decoded, while the decoder's threads decode the others.
  await Promise.all(
    files.map(async (f, k) => {
      const square = await decoder.decodeCentre(f, size);
      if (square.width !== size || square.height !== size) throw new Error(`decoded centre is ${square.width}×${square.height}, not ${size}×${size}`);
      normaliseSquare(square, norm, pixels.subarray(k * per, (k + 1) * per));
    }),
  );
  return pixels;
}
