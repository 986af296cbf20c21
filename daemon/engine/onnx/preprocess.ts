/**
 * The centre crop + normalisation of prediction, as `renderTransformed(img, size,
 * IDENTITY_TRANSFORM, norm)` computes it, bit for bit (same sample positions, same bilinear
 * weights and summation order, same lookup table), but with the per-row and per-column
 * sampling worked out once instead of per pixel: with onnxruntime the forward pass got so
 * fast that the general renderer (rotation, warp, reflection per pixel) cost more than it.
 * augment.test-style equality is checked in preprocess.test.ts.
 */
import { reflect, type Normalization, type RgbImage } from '../augment.ts';
import type { ImageDecoder } from '../images.ts';

const tableCache = new Map<string, Float32Array[]>();

function identityTables(norm: Normalization): Float32Array[] {
  const key = `${norm.mean.join(',')}|${norm.std.join(',')}`;
  let tables = tableCache.get(key);
  if (!tables) {
    tables = [0, 1, 2].map((ch) => {
      const table = new Float32Array(256);
      const mean = norm.mean[ch] as number;
      const std = norm.std[ch] as number;
      for (let v = 0; v < 256; v++) table[v] = (v / 255 - mean) / std;
      return table;
    });
    tableCache.set(key, tables);
  }
  return tables;
}

/** Sample positions along one axis: lower index, upper index, fraction. */
function axis(size: number, offset: number, half: number, extent: number): { lo: Int32Array; hi: Int32Array; f: Float64Array } {
  const lo = new Int32Array(size);
  const hi = new Int32Array(size);
  const f = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const u = ((i + 0.5) / size) * 2 - 1;
    const s = reflect(offset + (u + 1) * half - 0.5, extent);
    const s0 = Math.floor(s);
    lo[i] = s0;
    hi[i] = s0 + 1 < extent ? s0 + 1 : s0;
    f[i] = s - s0;
  }
  return { lo, hi, f };
}

export function renderCentreCrop(src: RgbImage, size: number, norm: Normalization, out: Float32Array): void {
  const side = Math.min(src.width, src.height);
  const half = side / 2;
  const w = src.width;
  const cols = axis(size, (src.width - side) * 0.5, half, src.width);
  const rows = axis(size, (src.height - side) * 0.5, half, src.height);
  const [t0, t1, t2] = identityTables(norm) as [Float32Array, Float32Array, Float32Array];
  const data = src.data;
  let o = 0;
  for (let row = 0; row < size; row++) {
    const y0 = rows.lo[row] as number;
    const y1 = rows.hi[row] as number;
    const fy = rows.f[row] as number;
    for (let col = 0; col < size; col++) {
      const x0 = cols.lo[col] as number;
      const x1 = cols.hi[col] as number;
      const fx = cols.f[col] as number;
      const i00 = (y0 * w + x0) * 3;
      const i01 = (y0 * w + x1) * 3;
      const i10 = (y1 * w + x0) * 3;
      const i11 = (y1 * w + x1) * 3;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      out[o++] = t0[Math.round((data[i00] as number) * w00 + (data[i01] as number) * w01 + (data[i10] as number) * w10 + (data[i11] as number) * w11)] as number;
      out[o++] = t1[Math.round((data[i00 + 1] as number) * w00 + (data[i01 + 1] as number) * w01 + (data[i10 + 1] as number) * w10 + (data[i11 + 1] as number) * w11)] as number;
      out[o++] = t2[Math.round((data[i00 + 2] as number) * w00 + (data[i01 + 2] as number) * w01 + (data[i10 + 2] as number) * w10 + (data[i11 + 2] as number) * w11)] as number;
    }
  }
}

/** Decodes a batch and renders each image's centre crop into one NHWC float buffer, decoding in parallel. */
export async function centreCropBatch(decoder: ImageDecoder, files: readonly (string | Buffer)[], size: number, norm: Normalization): Promise<Float32Array> {
  const per = size * size * 3;
  const pixels = new Float32Array(files.length * per);
  // Each image is cropped as soon as it is decoded, while sharp's threads decode the others.
  await Promise.all(files.map(async (f, k) => renderCentreCrop(await decoder.decode(f, size), size, norm, pixels.subarray(k * per, (k + 1) * per))));
  return pixels;
}
