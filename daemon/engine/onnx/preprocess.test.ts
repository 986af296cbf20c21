import { describe, it, expect } from 'vitest';
import { IDENTITY_TRANSFORM, renderTransformed, type RgbImage } from '../augment.ts';
import { mulberry32 } from '../rng.ts';
import { renderCentreCrop } from './preprocess.ts';

function image(width: number, height: number, seed: number): RgbImage {
  const rand = mulberry32(seed);
  return { width, height, data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rand() * 256)) };
}

describe('renderCentreCrop', () => {
  it('equals renderTransformed with the identity transform bit for bit (even/odd crop offsets, both orientations)', () => {
    const norms = [
      { mean: [0.5, 0.5, 0.5] as const, std: [0.5, 0.5, 0.5] as const },
      { mean: [0.485, 0.456, 0.406] as const, std: [0.229, 0.224, 0.225] as const },
    ];
    for (const [w, h] of [[32, 32], [45, 32], [32, 47], [128, 32], [299, 224]] as const) {
      for (const norm of norms) {
        const img = image(w, h, w * 31 + h);
        const size = Math.min(w, h);
        const expected = renderTransformed(img, size, IDENTITY_TRANSFORM, norm);
        const got = new Float32Array(size * size * 3);
        renderCentreCrop(img, size, norm, got);
        expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      }
    }
  });
});
