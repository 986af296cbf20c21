/**
 * The batch loop every predictor shares (tfjs stage, tfjs export, onnxruntime): pictures in
 * chunks, the next chunk decoded while the model scores this one, one prediction per picture
 * in input order. A predictor supplies only its decoding and its forward pass.
 */
import { predictionFromRow, type Prediction } from './learner.ts';

export type ImageSource = string | Buffer;

export interface ScoreFilesOptions {
  /** Pictures per forward pass; also how far decoding runs ahead. */
  chunk: number;
  /** Output order of `probabilities`' rows. */
  classes: readonly string[];
  /** Preprocessed NHWC pixels of a chunk. */
  pixels: (chunk: ImageSource[]) => Promise<Float32Array>;
  /** Class probabilities of `n` pictures, row-major [n, classes.length]. */
  probabilities: (pixels: Float32Array, n: number) => Promise<Float32Array>;
}

/**
 * Decoding the next chunk while this one is scored lets the decoder's threads and the
 * model's overlap instead of taking turns (ONNX figures at PIPELINE_CHUNK in onnx/predictor.ts).
 */
export async function scoreFiles(files: readonly ImageSource[], options: ScoreFilesOptions): Promise<Prediction[]> {
  const { chunk: per, classes, pixels: decode, probabilities } = options;
  const chunks: ImageSource[][] = [];
  for (let start = 0; start < files.length; start += per) chunks.push(files.slice(start, start + per));
  const out: Prediction[] = [];
  const k = classes.length;
  let next = chunks.length > 0 ? decode(chunks[0]!) : undefined;
  for (const [c, chunk] of chunks.entries()) {
    const pixels = await next!;
    next = c + 1 < chunks.length ? decode(chunks[c + 1]!) : undefined;
    // Settled here too, so a failure while this chunk runs is not reported as unhandled; the loop still awaits it.
    next?.catch(() => undefined);
    const data = await probabilities(pixels, chunk.length);
    chunk.forEach((_, i) => out.push(predictionFromRow(classes, data.subarray(i * k, (i + 1) * k))));
  }
  return out;
}
