/**
 * Training-set augmentation like fastai's `get_transforms()`, done on decoded RGB pixels in
 * one resampling pass: horizontal flip, rotation, zoom, a true perspective warp (a 3x3
 * homography, not an affine approximation), random crop position, then lighting (brightness
 * and contrast in logit space, as fastai does) through a lookup table of 256 entries per
 * channel. Sampling is bilinear with reflection padding (fastai's default padding mode).
 * Pure: pixels in, floats out.
 */
import { type Rng, uniform } from './rng.ts';

export interface AugmentOptions {
  flip: boolean;
  /** Degrees, drawn in ±maxRotate. */
  maxRotate: number;
  /** Zoom drawn in [1, maxZoom]. */
  maxZoom: number;
  /** Brightness change and contrast scale strength. */
  maxLighting: number;
  /** Perspective strength: homography terms drawn in ±maxWarp (corners move by ~maxWarp/(1+maxWarp)). */
  maxWarp: number;
  /** Probability of applying rotate/zoom/warp (each drawn independently, as fastai does). */
  pAffine: number;
  pLighting: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = {
  flip: true,
  maxRotate: 10,
  maxZoom: 1.1,
  maxLighting: 0.2,
  maxWarp: 0.2,
  pAffine: 0.75,
  pLighting: 0.75,
};

export interface TransformDraw {
  flip: boolean;
  rotateDeg: number;
  zoom: number;
  /** Zoom centre as fractions of the free range, 0..1. */
  zoomCol: number;
  zoomRow: number;
  /** Homography perspective terms. */
  warpX: number;
  warpY: number;
  /** Crop window position in the non-square image, 0..1 (0.5 = centre crop). */
  cropCol: number;
  cropRow: number;
  /** fastai brightness `change` (0.5 = none) and contrast `scale` (1 = none). */
  brightness: number;
  contrast: number;
}

/** The validation/prediction transform: centre crop, nothing else. */
export const IDENTITY_TRANSFORM: TransformDraw = {
  flip: false,
  rotateDeg: 0,
  zoom: 1,
  zoomCol: 0.5,
  zoomRow: 0.5,
  warpX: 0,
  warpY: 0,
  cropCol: 0.5,
  cropRow: 0.5,
  brightness: 0.5,
  contrast: 1,
};

export function drawTransform(rng: Rng, options: AugmentOptions = DEFAULT_AUGMENT): TransformDraw {
  const t: TransformDraw = { ...IDENTITY_TRANSFORM, cropCol: rng(), cropRow: rng() };
  if (options.flip && rng() < 0.5) t.flip = true;
  if (rng() < options.pAffine) t.rotateDeg = uniform(rng, -options.maxRotate, options.maxRotate);
  if (rng() < options.pAffine) {
    t.zoom = uniform(rng, 1, options.maxZoom);
    t.zoomCol = rng();
    t.zoomRow = rng();
  }
  if (rng() < options.pAffine) {
    t.warpX = uniform(rng, -options.maxWarp, options.maxWarp);
    t.warpY = uniform(rng, -options.maxWarp, options.maxWarp);
  }
  if (rng() < options.pLighting) {
    t.brightness = uniform(rng, 0.5 - options.maxLighting, 0.5 + options.maxLighting);
    const lo = Math.log(1 - options.maxLighting);
    t.contrast = Math.exp(uniform(rng, lo, -lo));
  }
  return t;
}

export interface RgbImage {
  /** Interleaved RGB bytes, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** Per-channel normalisation applied to values in [0, 1]: (v - mean) / std. */
export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export function reflect(coord: number, size: number): number {
  // Reflect about the pixel-edge borders [-0.5, size-0.5], then clamp for safety.
  const period = 2 * size;
  let c = (coord + 0.5) % period;
  if (c < 0) c += period;
  if (c >= size) c = period - c;
  c -= 0.5;
  return c < 0 ? 0 : c > size - 1 ? size - 1 : c;
}

const normalisationTables = new Map<string, Float32Array>();

/**
 * One table for the three channels: entry `256·c + v` is (v/255 − mean[c])/std[c]. Cached
 * per normalisation, so callers must not write to it. One typed array instead of three made
 * prediction's normalising loop a third faster.
 */
export function normalisationTable(norm: Normalization): Float32Array {
  const key = `${norm.mean.join(',')}|${norm.std.join(',')}`;
  let table = normalisationTables.get(key);
  if (!table) {
    table = new Float32Array(768);
    for (let ch = 0; ch < 3; ch++) {
      const mean = norm.mean[ch] as number;
      const std = norm.std[ch] as number;
      for (let v = 0; v < 256; v++) table[ch * 256 + v] = (v / 255 - mean) / std;
    }
    normalisationTables.set(key, table);
  }
  return table;
}

/** Lighting and normalisation in one table laid out as normalisationTable's, which it is when the lighting is neutral. */
function lightingTable(t: TransformDraw, norm: Normalization): Float32Array {
  // Without a lighting change x stays v/255, so the entries are normalisationTable's, float for float.
  if (t.brightness === 0.5 && t.contrast === 1) return normalisationTable(norm);
  const eps = 1e-4;
  const logit = (p: number) => Math.log(p / (1 - p));
  const shift = logit(t.brightness);
  const table = new Float32Array(768);
  for (let ch = 0; ch < 3; ch++) {
    const mean = norm.mean[ch] as number;
    const std = norm.std[ch] as number;
    for (let v = 0; v < 256; v++) {
      const p = Math.min(1 - eps, Math.max(eps, v / 255));
      const x = 1 / (1 + Math.exp(-(logit(p) * t.contrast + shift)));
      table[ch * 256 + v] = (x - mean) / std;
    }
  }
  return table;
}

/**
 * Renders a `size`x`size` normalised float image (HWC) from `src` under transform `t`.
 * The source is expected to be resized so that its shorter side is `size` (sharp `cover`
 * without cropping); the crop window is a `size` square placed by cropCol/cropRow.
 */
export function renderTransformed(src: RgbImage, size: number, t: TransformDraw, norm: Normalization, out?: Float32Array): Float32Array {
  const result = out ?? new Float32Array(size * size * 3);
  const side = Math.min(src.width, src.height);
  const offX = (src.width - side) * t.cropCol;
  const offY = (src.height - side) * t.cropRow;
  const half = side / 2;
  const theta = (t.rotateDeg * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const invZoom = 1 / t.zoom;
  const shiftX = (1 - invZoom) * (2 * t.zoomCol - 1);
  const shiftY = (1 - invZoom) * (2 * t.zoomRow - 1);
  const table = lightingTable(t, norm);
  const data = src.data;
  const w = src.width;
  const h = src.height;
  const plain = t.rotateDeg === 0 && t.zoom === 1 && t.warpX === 0 && t.warpY === 0 && !t.flip;
  let o = 0;
  for (let row = 0; row < size; row++) {
    const v0 = ((row + 0.5) / size) * 2 - 1;
    for (let col = 0; col < size; col++) {
      let u = ((col + 0.5) / size) * 2 - 1;
      let v = v0;
      if (!plain) {
        if (t.flip) u = -u;
        // Perspective: homogeneous divide by (1 + a·u + b·v).
        const denom = 1 + t.warpX * u + t.warpY * v;
        const wu = u / denom;
        const wv = v / denom;
        // Rotation and zoom around a random centre that keeps the window inside the image.
        u = (cos * wu - sin * wv) * invZoom + shiftX;
        v = (sin * wu + cos * wv) * invZoom + shiftY;
      }
      const sx = reflect(offX + (u + 1) * half - 0.5, w);
      const sy = reflect(offY + (v + 1) * half - 0.5, h);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = x0 + 1 < w ? x0 + 1 : x0;
      const y1 = y0 + 1 < h ? y0 + 1 : y0;
      const fx = sx - x0;
      const fy = sy - y0;
      const i00 = (y0 * w + x0) * 3;
      const i01 = (y0 * w + x1) * 3;
      const i10 = (y1 * w + x0) * 3;
      const i11 = (y1 * w + x1) * 3;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      for (let ch = 0; ch < 3; ch++) {
        const value =
          (data[i00 + ch] as number) * w00 +
          (data[i01 + ch] as number) * w01 +
          (data[i10 + ch] as number) * w10 +
          (data[i11 + ch] as number) * w11;
        result[o++] = table[ch * 256 + Math.round(value)] as number;
      }
    }
  }
  return result;
}
