import { describe, it, expect } from 'vitest';
import { DEFAULT_AUGMENT, IDENTITY_TRANSFORM, drawTransform, normalisationTable, renderTransformed, type Normalization, type RgbImage, type TransformDraw } from './augment.ts';
import { mulberry32 } from './rng.ts';

const unit: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x * 4, y * 4, 128], (y * width + x) * 3);
  return { data, width, height };
}

describe('augmentation', () => {
  it('the identity transform is a centre crop, normalised', () => {
    const img = gradient(48, 32);
    const out = renderTransformed(img, 32, IDENTITY_TRANSFORM, unit);
    // Output pixel (0,0) is source pixel (8,0): the crop is centred horizontally.
    expect(out[0]).toBeCloseTo(32 / 255, 5);
    expect(out[1]).toBeCloseTo(0, 5);
    const mobilenet = renderTransformed(img, 32, IDENTITY_TRANSFORM, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(Math.min(...mobilenet)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...mobilenet)).toBeLessThanOrEqual(1);
  });

  it('a flip mirrors the image', () => {
    const img = gradient(32, 32);
    const plain = renderTransformed(img, 32, IDENTITY_TRANSFORM, unit);
    const flipped = renderTransformed(img, 32, { ...IDENTITY_TRANSFORM, flip: true }, unit);
    expect(flipped[0]).toBeCloseTo(plain[31 * 3]!, 5);
  });

  it('draws stay within the get_transforms() ranges and are reproducible', () => {
    const rng = mulberry32(1);
    for (let i = 0; i < 200; i++) {
      const t = drawTransform(rng);
      expect(Math.abs(t.rotateDeg)).toBeLessThanOrEqual(DEFAULT_AUGMENT.maxRotate);
      expect(t.zoom).toBeGreaterThanOrEqual(1);
      expect(t.zoom).toBeLessThanOrEqual(DEFAULT_AUGMENT.maxZoom);
      expect(Math.abs(t.warpX)).toBeLessThanOrEqual(DEFAULT_AUGMENT.maxWarp);
      expect(Math.abs(t.brightness - 0.5)).toBeLessThanOrEqual(DEFAULT_AUGMENT.maxLighting);
    }
    expect(drawTransform(mulberry32(5))).toEqual(drawTransform(mulberry32(5)));
  });

  it('an augmented render changes pixels but keeps them in range', () => {
    const img = gradient(40, 40);
    const t = { ...IDENTITY_TRANSFORM, rotateDeg: 10, zoom: 1.1, warpX: 0.2, warpY: -0.2, brightness: 0.6, contrast: 1.2 };
    const out = renderTransformed(img, 32, t, unit);
    const plain = renderTransformed(img, 32, IDENTITY_TRANSFORM, unit);
    expect(out).not.toEqual(plain);
    for (const v of out) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  });

  it('lighting goes through one table per channel with the values of the per-channel formula, float for float', () => {
    // The formula the render's table must reproduce, written out per pixel value as fastai states it.
    const reference = (t: TransformDraw, norm: Normalization, ch: number, v: number): number => {
      const logit = (p: number) => Math.log(p / (1 - p));
      let x = v / 255;
      if (t.brightness !== 0.5 || t.contrast !== 1) {
        const p = Math.min(1 - 1e-4, Math.max(1e-4, x));
        x = 1 / (1 + Math.exp(-(logit(p) * t.contrast + logit(t.brightness))));
      }
      return Math.fround((x - (norm.mean[ch] as number)) / (norm.std[ch] as number));
    };
    // Every byte value on every channel; the identity geometry of a square samples each pixel at its own position.
    const strip: RgbImage = { data: new Uint8Array(256 * 256 * 3), width: 256, height: 256 };
    for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) strip.data.set([x, (x + 85) % 256, (x + 170) % 256], (y * 256 + x) * 3);
    const imagenet: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    for (const norm of [unit, imagenet]) {
      for (const t of [IDENTITY_TRANSFORM, { ...IDENTITY_TRANSFORM, brightness: 0.63 }, { ...IDENTITY_TRANSFORM, contrast: 0.85 }, { ...IDENTITY_TRANSFORM, brightness: 0.4, contrast: 1.2 }]) {
        const out = renderTransformed(strip, 256, t, norm);
        for (let x = 0; x < 256; x++) {
          for (let ch = 0; ch < 3; ch++) expect(out[x * 3 + ch]).toBe(reference(t, norm, ch, strip.data[x * 3 + ch] as number));
        }
      }
      expect(Array.from(normalisationTable(norm))).toEqual(Array.from({ length: 768 }, (_, i) => reference(IDENTITY_TRANSFORM, norm, Math.floor(i / 256), i % 256)));
    }
  });
});
