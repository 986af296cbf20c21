import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { generatedJpeg } from '../../../tests/helpers/images.ts';
import { IDENTITY_TRANSFORM, renderTransformed } from '../augment.ts';
import { fastDecoder, fastPathHeader } from '../fastDecoder.ts';
import { decodedSize, sharpDecoder } from '../images.ts';
import { centreCropBatch } from './preprocess.ts';

const NORMS = [
  { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
] as const;

async function pictures(): Promise<Record<string, Buffer>> {
  const jpeg = await generatedJpeg(5, 161, 87);
  return {
    'landscape jpeg': jpeg,
    'portrait jpeg': await generatedJpeg(6, 90, 151),
    'square jpeg': await generatedJpeg(7, 64, 64),
    'panorama beyond the aspect cap': await generatedJpeg(8, 400, 40),
    'png with transparency': await sharp(await generatedJpeg(9, 120, 77)).ensureAlpha(0.4).png().toBuffer(),
    gif: await sharp(jpeg).gif().toBuffer(),
  };
}

describe('prediction preprocessing', () => {
  it('decodedSize keeps the shorter side and gives the longer side its parity, so the centre crop starts on a whole pixel', () => {
    for (const size of [32, 33, 224]) {
      for (const [w, h] of [[320, 240], [321, 240], [240, 331], [1000, 999], [5000, 100], [17, 9]] as const) {
        const [dw, dh] = decodedSize(w, h, size);
        expect(Math.min(dw, dh)).toBe(size);
        expect((Math.max(dw, dh) - size) % 2).toBe(0);
        // Aspect kept to within a pixel, up to the 4:1 cap.
        const longer = Math.min((Math.max(w, h) / Math.min(w, h)) * size, 4 * size);
        expect(Math.abs(Math.max(dw, dh) - longer)).toBeLessThanOrEqual(1.5);
      }
    }
  });

  for (const [name, decoder] of [['fast decoder', fastDecoder], ['sharp decoder', sharpDecoder]] as const) {
    it(`${name}: the centre-square batch equals training's identity render of the full decode, bit for bit`, async () => {
      const inputs = await pictures();
      for (const size of [48, 61]) {
        if (decoder === fastDecoder) {
          // Every picture but the GIF really takes the fast path here (sharp's own case is the other test).
          expect(Object.entries(inputs).map(([name, bytes]) => [name, fastPathHeader(bytes, size) !== undefined])).toEqual(Object.keys(inputs).map((name) => [name, name !== 'gif']));
        }
        for (const norm of NORMS) {
          const files = Object.values(inputs);
          const batch = await centreCropBatch(decoder, files, size, norm);
          for (const [k, file] of files.entries()) {
            const expected = renderTransformed(await decoder.decode(file, size), size, IDENTITY_TRANSFORM, norm);
            const got = batch.subarray(k * size * size * 3, (k + 1) * size * size * 3);
            expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(expected.buffer)), `${Object.keys(inputs)[k]} at ${size}`).toBe(true);
          }
        }
      }
    });
  }

  it('an undecodable picture makes the batch fail with an error rather than a silent row of zeros', async () => {
    await expect(centreCropBatch(fastDecoder, [await generatedJpeg(1, 40, 40), Buffer.from('not an image')], 32, NORMS[0])).rejects.toThrow();
  });
});
